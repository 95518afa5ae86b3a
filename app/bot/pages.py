"""Paginated replies: an embed of `per_page` lines with Previous/Next buttons only the asker may press.

The menu runs in the background (`attach_persistent`), so the command returns at once and
its guild database lease is released; the pages are built before the reply and never read
the database again. When the menu times out (on the bot's `Clock`: the sandbox's `clock +1d` ends it)
its buttons are removed; an erasure in its server (`Forgetting`: `/my-data delete`, `/server-data delete`)
ends it at once, so a press never shows rows that were deleted.
"""
from __future__ import annotations

import contextlib
import logging

import hikari
import lightbulb
from lightbulb.components import Menu, MenuContext, MenuHandle

from app.bot.clock import Clock
from app.bot.forgetting import Forgetting

PER_PAGE = 10
PAGES_TIMEOUT_S = 300.0
DESCRIPTION_LIMIT, CONTENT_LIMIT = 4096, 2000  # Discord's limits: embed description, message content
PREVIOUS_LABEL, NEXT_LABEL = "Previous", "Next"
NOT_YOURS = "Only the member who ran this command can turn its pages; run it yourself to browse."
EMPTY = "Nothing to show yet."

log = logging.getLogger("app.bot.pages")


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    """At least one page, even for no lines."""
    return max(1, -(-total // per_page))


def page_footer(index: int, pages: int, footer: str | None = None) -> str:
    """"page N of M", then the caller's footer (e.g. the member's own rank)."""
    text = f"page {index + 1} of {pages}"
    return f"{text} · {footer}" if footer else text


def build_pages(title: str, lines: list[str], *, per_page: int = PER_PAGE,
                footer: str | None = None) -> list[hikari.Embed]:
    """One embed per page; a page's text is cut to Discord's description limit."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    pages = page_count(len(lines), per_page)
    embeds = []
    for index in range(pages):
        chunk = lines[index * per_page:(index + 1) * per_page]
        text = "\n".join(chunk) or EMPTY
        if len(text) > DESCRIPTION_LIMIT:
            text = text[:DESCRIPTION_LIMIT - 1] + "…"
        embeds.append(hikari.Embed(title=title[:256], description=text)
                      .set_footer(page_footer(index, pages, footer)))
    return embeds


class Pages(Menu):
    """Previous/Next over prepared embeds; a press by anyone but `owner_id` is refused."""

    def __init__(self, owner_id: int, pages: list[hikari.Embed]) -> None:
        self.owner_id = owner_id
        self.pages = pages
        self.page = 0
        self.previous = self.add_interactive_button(hikari.ButtonStyle.SECONDARY, self._previous,
                                                    label=PREVIOUS_LABEL)
        self.next = self.add_interactive_button(hikari.ButtonStyle.SECONDARY, self._next, label=NEXT_LABEL)
        self._sync_buttons()

    @property
    def current(self) -> hikari.Embed:
        return self.pages[self.page]

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page == len(self.pages) - 1

    async def predicate(self, ctx: MenuContext) -> bool:
        if ctx.user.id != self.owner_id:
            await ctx.respond(NOT_YOURS, ephemeral=True)
            return False
        return True

    async def _turn(self, ctx: MenuContext, step: int) -> None:
        # a stale client may still show an enabled button: clamp instead of trusting it
        self.page = min(max(self.page + step, 0), len(self.pages) - 1)
        self._sync_buttons()
        await ctx.respond(embed=self.current, edit=True, rebuild_menu=True)

    async def _previous(self, ctx: MenuContext) -> None:
        await self._turn(ctx, -1)

    async def _next(self, ctx: MenuContext) -> None:
        await self._turn(ctx, +1)


async def _remove_buttons_when_done(ctx: lightbulb.Context, response_id: hikari.Snowflakeish,
                                    menu: Pages, handle: MenuHandle) -> None:
    with contextlib.suppress(TimeoutError):
        await handle.wait()
    await _remove_buttons(ctx, response_id, menu)


def attach_until_stopped(menu: Menu, client: lightbulb.Client) -> MenuHandle:
    """`menu` attached with no timeout of lightbulb's, whose handle's `stop_interacting()` really detaches it.

    lightbulb 3.2.6's `MenuHandle.__init__` drops the `_am` that `attach_persistent(timeout=None)` passes, so
    `stop_interacting()` only set its event: the menu stayed attached, kept answering presses (a client that had not
    seen its buttons removed turned a deleted server's pages) and stayed in memory with its rows for good.
    """
    handle = menu.attach_persistent(client, timeout=None)
    # lightbulb's private names (pinned to 3.2.6 in constraints.txt; tests/sandbox/test_attack5_menus.py guards
    # them): read defensively, so that a release renaming them loses this repair, not the menu
    attached = next((am for am in getattr(client, "_attached_menus", ()) if getattr(am, "_menu", None) is menu), None)
    if attached is not None:
        with contextlib.suppress(AttributeError):
            handle._am = attached  # the setter lightbulb's own timed path uses
    return handle


async def _injected(ctx: lightbulb.Context) -> tuple[Clock | None, Forgetting | None]:
    """The bot's clock and erasure hub, when the client provides them (a bare test client may not)."""
    container = ctx.client.di.default_container
    if container is None:
        return None, None
    clock = await container.get(Clock) if Clock in container else None
    forgetting = await container.get(Forgetting) if Forgetting in container else None
    return clock, forgetting


def _run_on_clock(ctx: lightbulb.Context, response_id: hikari.Snowflakeish, menu: Pages, timeout: float,
                  clock: Clock, forgetting: Forgetting | None) -> None:
    """The menu until `timeout` on the bot's clock, or until an erasure in its server; then no buttons."""
    handle = attach_until_stopped(menu, ctx.client)
    guild_id = int(ctx.guild_id) if ctx.guild_id is not None else None
    ended = False

    def end() -> bool:
        nonlocal ended
        if ended:
            return False
        ended = True
        handle.stop_interacting()  # at once: no press is served after this
        timer.cancel()
        if forgetting is not None:
            forgetting.unsubscribe(erased)
        return True

    async def timed_out() -> None:
        if end():
            await _remove_buttons(ctx, response_id, menu)

    def erased(erased_guild: int, _user_id: int | None) -> None:
        # a member's erasure too: any page here may show them (a leaderboard line, their list)
        if erased_guild == guild_id and end():
            ctx.client.safe_create_task(_remove_buttons(ctx, response_id, menu))

    timer = clock.call_later(timeout, timed_out)
    if forgetting is not None and guild_id is not None:
        forgetting.subscribe(erased)


async def _remove_buttons(ctx: lightbulb.Context, response_id: hikari.Snowflakeish, menu: Pages) -> None:
    try:
        await ctx.edit_response(response_id, embed=menu.current, components=[])
    except hikari.HikariError:
        log.debug("could not remove the page buttons (the message may be gone)", exc_info=True)


async def respond_paginated(ctx: lightbulb.Context, title: str, lines: list[str], *, per_page: int = PER_PAGE,
                            ephemeral: bool = False, footer: str | None = None, content: str | None = None,
                            timeout: float = PAGES_TIMEOUT_S) -> None:
    """Reply with `lines` as pages of `per_page` (and `content` above them); buttons only for 2+ pages."""
    embeds = build_pages(title, lines, per_page=per_page, footer=footer)
    text = hikari.UNDEFINED if content is None else content[:CONTENT_LIMIT]
    if len(embeds) == 1:
        await ctx.respond(text, embed=embeds[0], ephemeral=ephemeral)
        return
    menu = Pages(int(ctx.user.id), embeds)
    response_id = await ctx.respond(text, embed=menu.current, components=menu, ephemeral=ephemeral)
    clock, forgetting = await _injected(ctx)
    if clock is not None:
        _run_on_clock(ctx, response_id, menu, timeout, clock, forgetting)
        return
    handle = menu.attach_persistent(ctx.client, timeout=timeout)
    ctx.client.safe_create_task(_remove_buttons_when_done(ctx, response_id, menu, handle))
