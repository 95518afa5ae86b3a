"""The Discord double and the real bot, connected in one event loop: for the sandbox, tests and benchmarks.

    async with running_bot(tmp_path / "guild_dbs", guilds=[111]) as h:
        reply = await h.command(111, 42, "server info", admin=True)
        assert not reply.ephemeral or "Schema version" in h.text(reply)

Tests of any package can use it (see tests/bot/conftest.py for a fixture).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import hikari

from app.bot.app import BotApp
from app.bot.clock import Clock
from app.config import Settings
from app.doubles import DiscordDouble, DoubleError, InteractionRecord, Reply
from app.doubles import discord_permissions as perm
from app.doubles.anilist import AniListDouble
from app.doubles.steam import SteamCatalogue, SteamDouble
from app.ops.ratelimit import DEFAULT_RATE_GUILD, DEFAULT_RATE_MEMBER, UNLIMITED

QUIET_SECONDS = 0.05


class BotHarness:
    """Plays Discord and its users against a real bot; remembers each user's last message and modal."""

    def __init__(self, settings: Settings, *, guilds: Iterable[int] = (), extensions: list[str] | None = None,
                 steam: SteamCatalogue | None = None) -> None:
        self.settings = settings
        self.double = DiscordDouble()
        # the Steam double answers unless the settings point elsewhere: the harness never calls the real Steam
        self.steam = SteamDouble(steam) if settings.steam_api_url == Settings().steam_api_url else None
        self._initial_guilds = list(guilds)
        self._extensions = extensions
        self.app: BotApp | None = None
        self.clock = Clock()  # the bot's; `advance()` moves it and Discord's together
        self._last_modal: dict[tuple[int | None, int], Reply] = {}
        self._invites_made: set[tuple[int, str]] = set()  # (guild, code) of every invite created here
        self.anilist: AniListDouble | None = None  # set by running_bot when it started one

    @property
    def bot(self) -> BotApp:
        if self.app is None:
            raise RuntimeError("the harness is not started")
        return self.app

    async def start(self) -> None:
        await self.double.start()
        if self.steam is not None:
            await self.steam.start()
            self.settings = dataclasses.replace(self.settings, steam_api_url=self.steam.url,
                                                steam_api_key=self.settings.steam_api_key or self.steam.key)
        for guild_id in self._initial_guilds:
            self.double.place_bot(guild_id)
        self.app = BotApp(self.settings, token=self.double.token, rest_url=self.double.rest_url,
                          extensions=self._extensions, clock=self.clock)
        try:
            await self.app.start()
        except BaseException:
            await self.stop()
            raise

    async def restart(self) -> None:
        """The bot's process restarts: a new bot on the same files and clock; Discord keeps its state."""
        await self.bot.stop()
        self.app = BotApp(self.settings, token=self.double.token, rest_url=self.double.rest_url,
                          extensions=self._extensions, clock=self.clock)
        await self.app.start()

    async def stop(self) -> None:
        try:
            if self.app is not None:
                await self.app.stop()
        finally:
            await self.double.stop()
            if self.steam is not None:
                await self.steam.stop()

    # -- users -------------------------------------------------------------
    async def send(self, guild_id: int | None, user_id: int, command: str,
                   options: dict[str, str] | None = None, *, admin: bool = False) -> InteractionRecord:
        """Send a slash command without waiting for the answer."""
        return await self.double.invoke(guild_id, user_id, command, options, admin=admin)

    async def command(self, guild_id: int | None, user_id: int, command: str,
                      options: dict[str, str] | None = None, *, admin: bool = False,
                      timeout: float = 10.0) -> Reply:
        """Run `/command [sub...]` and return the bot's first answer (a message, or a modal)."""
        record = await self.send(guild_id, user_id, command, options, admin=admin)
        return await self.answer(record, timeout)

    async def click(self, guild_id: int | None, user_id: int, button: str, *, admin: bool = False,
                    on_message_of: int | None = None, timeout: float = 10.0) -> Reply:
        """Press a button (by label, else custom_id) on the newest message with buttons the bot sent this user.

        `on_message_of=OTHER`: press it on the newest message the bot sent to another member instead
        (Discord shows an ephemeral message to its member only: pressing on one is refused).
        """
        record = await self.press(guild_id, user_id, button, admin=admin, on_message_of=on_message_of)
        return await self.answer(record, timeout)

    async def press(self, guild_id: int | None, user_id: int, button: str, *, admin: bool = False,
                    on_message_of: int | None = None) -> InteractionRecord:
        """Send the button press without waiting for the answer."""
        owner = user_id if on_message_of is None else on_message_of
        message = self._latest_with_components(guild_id, owner)
        if message is None:
            raise DoubleError(f"there is no message with buttons to click for user {owner}")
        if owner != user_id and message.ephemeral:
            raise DoubleError(f"user {user_id} cannot see that message: it is ephemeral, shown to user {owner} only")
        buttons = message.buttons()
        found = next((b for b in buttons if b.get("label") == button), None) or next(
            (b for b in buttons if b.get("custom_id") == button), None)
        if found is None:
            labels = ", ".join(str(b.get("label") or b.get("custom_id")) for b in buttons) or "none"
            raise DoubleError(f"no button {button!r} on the last message (buttons: {labels})")
        return await self.double.click(message, found["custom_id"], guild_id=guild_id, user_id=user_id,
                                       admin=admin)

    async def autocomplete(self, guild_id: int | None, user_id: int, command: str, option: str, partial: str,
                           options: dict[str, str] | None = None, *, timeout: float = 10.0
                           ) -> list[dict[str, object]]:
        """Type `partial` into `option` of `/command [sub...]`: the choices the bot offers (name, value)."""
        record = await self.double.autocomplete(guild_id, user_id, command, option, partial, options)
        return list(await self.double.wait_choices(record, timeout=timeout))

    async def select(self, guild_id: int | None, user_id: int, menu: str, values: list[str], *,
                     admin: bool = False, timeout: float = 10.0) -> Reply:
        """Choose `values` (option labels or values) in a select menu (by placeholder, else custom_id)."""
        record = await self.choose(guild_id, user_id, menu, values, admin=admin)
        return await self.answer(record, timeout)

    async def choose(self, guild_id: int | None, user_id: int, menu: str, values: list[str], *,
                     admin: bool = False) -> InteractionRecord:
        """Send the select menu choice without waiting for the answer."""
        message = self._latest_with_components(guild_id, user_id)
        selects = message.selects() if message else []
        found = next((m for m in selects if m.get("placeholder") == menu or m.get("custom_id") == menu), None)
        if message is None or found is None:
            known = ", ".join(str(m.get("placeholder") or m.get("custom_id")) for m in selects) or "none"
            raise DoubleError(f"no select menu {menu!r} on the last message (menus: {known})")
        by_label = {str(o.get("label")): str(o.get("value")) for o in found.get("options", [])}
        chosen = [by_label.get(v, v) for v in values]
        return await self.double.select(message, found["custom_id"], chosen, guild_id=guild_id, user_id=user_id,
                                        admin=admin)

    async def submit_modal(self, guild_id: int | None, user_id: int, values: dict[str, str], *,
                           admin: bool = False, timeout: float = 10.0) -> Reply:
        """Submit the modal last shown to this user with `values` (field custom_id or label → text)."""
        record = await self.submit(guild_id, user_id, values, admin=admin)
        return await self.answer(record, timeout)

    async def submit(self, guild_id: int | None, user_id: int, values: dict[str, str], *,
                     admin: bool = False) -> InteractionRecord:
        """Send the modal submission without waiting for the answer."""
        modal = self._last_modal.get((guild_id, user_id))
        if modal is None:
            raise DoubleError("no modal is open for this user")
        by_id = _modal_values(modal, values)  # a field it does not have: the modal stays open, as on Discord
        del self._last_modal[(guild_id, user_id)]
        return await self.double.submit_modal(modal, by_id, guild_id=guild_id, user_id=user_id, admin=admin)

    async def answer(self, record: InteractionRecord, timeout: float = 10.0) -> Reply:
        """Wait for the bot's first answer to an interaction and remember its buttons or modal."""
        reply = await self.double.wait_reply(record, timeout=timeout)
        self._remember(record, reply)
        return reply

    def _remember(self, record: InteractionRecord, reply: Reply) -> None:
        if reply.kind == "modal":
            self._last_modal[(record.guild_id, record.user_id)] = reply

    def _latest_with_components(self, guild_id: int | None, user_id: int) -> Reply | None:
        """Originals, follow-ups and edited messages alike: message ids grow with time."""
        found = [reply for record in self.double.interactions.values()
                 if record.guild_id == guild_id and record.user_id == user_id
                 for reply in record.replies if reply.kind == "message" and (reply.buttons() or reply.selects())]
        return max(found, key=lambda reply: reply.message_id, default=None)

    async def settle(self, record: InteractionRecord, *, quiet: float = QUIET_SECONDS) -> list[Reply]:
        """Every message of an interaction once nothing new arrived for `quiet` seconds.

        For a button that edited its message, that message.
        """
        while True:
            record.changed.clear()
            try:
                await asyncio.wait_for(record.changed.wait(), quiet)
            except TimeoutError:
                break
        replies = list(record.replies)
        if not replies and record.source_message_id in self.double.messages:
            replies = [self.double.messages[record.source_message_id]]
        return replies

    # -- time ----------------------------------------------------------------
    async def advance(self, delta: timedelta) -> None:
        """Time passes (for the bot and for Discord); returns once the work that fell due has run.

        What the bot's timers start (a slow command's deferral) reaches Discord before Discord's clock
        moves, as it would in real time: an advance past the 3 s deadline never fails a working command.
        """
        self.clock.advance(delta)
        await self.clock.started_work()
        self.double.clock.advance(delta.total_seconds())
        await self.clock.settle()

    # -- permissions -------------------------------------------------------
    async def give_role(self, guild_id: int, user_id: int, *permissions: int, name: str | None = None) -> int:
        """Give the member a new role with exactly these permissions (hikari.Permissions or ints); its id.

        `give_role(G, U, hikari.Permissions.MANAGE_GUILD)`: Manage Server without Administrator.
        `give_role(G, U, hikari.Permissions.ADMINISTRATOR)`: Administrator without the Manage Server bit
        on any role (Discord still computes every permission for them, as it does for the owner).
        Without `admin=True`, a member has @everyone's permissions plus the roles given here.
        """
        return await self.double.add_role(guild_id, _bits(permissions), name=name, members=(user_id,))

    async def set_role_permissions(self, guild_id: int, role_id: int, *permissions: int) -> None:
        """Change a role's permissions; @everyone's role id is the guild id."""
        await self.double.set_role_permissions(guild_id, role_id, _bits(permissions))

    async def set_bot_permissions(self, guild_id: int, *permissions: int) -> None:
        """The permissions of the bot's own role (default: the README's invite link, BOT_INVITE)."""
        guild = self.double.ensure_guild(guild_id)
        await self.double.set_role_permissions(guild_id, guild.bot_role_id, _bits(permissions))

    async def set_overwrite(self, guild_id: int, target_id: int, *, allow: int = 0, deny: int = 0,
                            member: bool = False) -> None:
        """The guild's channel overwrite for a role (@everyone: the guild id) or, with member=True, a member."""
        await self.double.set_overwrite(guild_id, target_id, allow=int(allow), deny=int(deny), member=member)

    def permissions_of(self, guild_id: int, user_id: int) -> hikari.Permissions:
        """What Discord would put in the member's interaction payload (the guild's channel)."""
        return hikari.Permissions(self.double.ensure_guild(guild_id).permissions_of(user_id))

    def owner_of(self, guild_id: int) -> int:
        """The guild owner's user id (the owner has every permission)."""
        return self.double.ensure_guild(guild_id).owner_id

    # -- the world ---------------------------------------------------------
    async def add_bot_to_guild(self, guild_id: int, name: str | None = None) -> None:
        async with self.received(hikari.GuildJoinEvent, guild_id):
            await self.double.add_bot(guild_id, name)

    async def remove_bot_from_guild(self, guild_id: int) -> None:
        async with self.received(hikari.GuildLeaveEvent, guild_id):
            await self.double.remove_bot(guild_id)

    async def outage(self, guild_id: int) -> None:
        """Discord loses the guild for a while: GUILD_DELETE `unavailable: true` (the bot was not removed)."""
        async with self.received(hikari.GuildUnavailableEvent, guild_id):
            await self.double.outage(guild_id)

    async def recover(self, guild_id: int) -> None:
        async with self.received(hikari.GuildAvailableEvent, guild_id):
            await self.double.recover(guild_id)

    async def create_invite(self, guild_id: int, user_id: int, code: str, *, max_uses: int = 0) -> bool:
        """The member creates an invite (INVITE_CREATE); whether the bot was told (Manage Channels)."""
        guild = self.double.ensure_guild(guild_id)
        told = bool(guild.permissions_of(self.double.app_id) & perm.MANAGE_CHANNELS)
        if told:
            async with self.received(hikari.InviteCreateEvent, guild_id):
                await self.double.create_invite(guild_id, user_id, code=code, max_uses=max_uses)
        else:
            await self.double.create_invite(guild_id, user_id, code=code, max_uses=max_uses)
        self._invites_made.add((guild_id, code))  # made: once gone, nobody joins by it any more
        return told

    async def member_join(self, guild_id: int, user_id: int, *, invite: str | None = None, vanity: bool = False,
                          delete_first: bool = False) -> None:
        """A user joins; by `invite` if given (created by the server owner first if it was never made), or by
        the vanity URL; `delete_first`: a used-up invite's INVITE_DELETE comes before the join.

        Raises:
            DoubleError: the invite was made, then used up or deleted: nobody can join by it any more.
        """
        guild = self.double.ensure_guild(guild_id)
        if invite is not None and invite not in guild.invites:
            if (guild_id, invite) in self._invites_made:
                raise DoubleError(f"invite {invite} no longer exists in server {guild_id} (used up or deleted), so "
                                  "nobody can join by it; make it again with an `invite` line")
            await self.create_invite(guild_id, guild.owner_id, invite)
        async with self.received(hikari.MemberCreateEvent, guild_id):
            await self.double.member_join(guild_id, user_id, invite=invite, vanity=vanity, delete_first=delete_first)

    async def member_leave(self, guild_id: int, user_id: int) -> None:
        async with self.received(hikari.MemberDeleteEvent, guild_id):
            await self.double.member_leave(guild_id, user_id)

    async def say(self, guild_id: int, user_id: int, text: str) -> None:
        async with self.received(hikari.GuildMessageCreateEvent, guild_id):
            await self.double.say(guild_id, user_id, text)

    @asynccontextmanager
    async def received(self, event_type: type[hikari.Event], guild_id: int) -> AsyncIterator[None]:
        """Wait (briefly) until the bot has received the event the block causes."""
        waiter = asyncio.ensure_future(self.bot.bot.wait_for(
            event_type, timeout=5.0, predicate=lambda e: int(getattr(e, "guild_id", 0)) == guild_id))
        await asyncio.sleep(0)
        try:
            yield
        except BaseException:
            waiter.cancel()
            raise
        await waiter


def _bits(permissions: Iterable[int]) -> int:
    bits = 0
    for permission in permissions:
        bits |= int(permission)
    return bits


def _modal_values(modal: Reply, values: dict[str, str]) -> dict[str, str]:
    """Map field labels or custom ids to custom ids."""
    fields = [c for row in (modal.modal or {}).get("components", []) for c in row.get("components", [])]
    out: dict[str, str] = {}
    for key, value in values.items():
        match = next((f for f in fields if f.get("custom_id") == key or f.get("label") == key), None)
        if match is None:
            known = ", ".join(str(f.get("label") or f.get("custom_id")) for f in fields)
            raise DoubleError(f"the modal has no field {key!r} (fields: {known})")
        out[match["custom_id"]] = value
    return out


@asynccontextmanager
async def running_bot(guild_dbs_dir: Path, *, guilds: Iterable[int] = (), settings: Settings | None = None,
                      extensions: list[str] | None = None, steam: SteamCatalogue | None = None
                      ) -> AsyncIterator[BotHarness]:
    """A started double + bot over `guild_dbs_dir`; everything is closed on exit.

    Unless `settings` point ANILIST_URL somewhere else, an AniList double with the built-in catalogue
    answers (`harness.anilist`): the bot under test never reaches the real AniList. The Steam double
    (`steam`'s catalogue, else the built-in one) answers unless `settings` name a Steam URL.
    """
    base = _without_default_budget(settings or Settings())
    async with contextlib.AsyncExitStack() as stack:
        anilist = None
        if base.anilist_url == Settings().anilist_url:
            anilist = await stack.enter_async_context(AniListDouble())
            base = dataclasses.replace(base, anilist_url=anilist.url)
        harness = BotHarness(dataclasses.replace(base, guild_dbs_dir=guild_dbs_dir), guilds=guilds,
                             extensions=extensions, steam=steam)
        harness.anilist = anilist
        await harness.start()
        try:
            yield harness
        finally:
            await harness.stop()


def _without_default_budget(settings: Settings) -> Settings:
    """A script's lines arrive faster than any person types: the default command budget is lifted.

    A budget the caller set explicitly (anything but the defaults) is kept, so the budget's own
    tests still meet it.
    """
    if settings.rate_member == DEFAULT_RATE_MEMBER:
        settings = dataclasses.replace(settings, rate_member=UNLIMITED)
    if settings.rate_guild == DEFAULT_RATE_GUILD:
        settings = dataclasses.replace(settings, rate_guild=UNLIMITED)
    return settings


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, every: float = 0.01) -> None:
    """Poll until `check()` is true (for effects of gateway events, which the bot handles on its own time)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(every)
