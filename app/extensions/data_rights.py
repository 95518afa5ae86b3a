"""`/server-data export|delete|sharing` (admin), `/my-data export|delete` and `/privacy`.

The guild's file is reached only through `GuildFiles`, bound to ctx.guild_id:
nothing here can touch another guild. Confirmations are a button (and, to delete
a server, a modal where the admin types the server's name).
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import hikari
import lightbulb
from lightbulb.components import Menu, MenuContext, Modal, ModalContext

from app.bot.checks import ADMIN_DEFAULT, GUILD_CONTEXT, admin_only, is_admin
from app.bot.clock import Clock
from app.bot.di import GuildFiles
from app.bot.errors import internal_error_message, reference_id
from app.bot.forgetting import Forgetting
from app.bot.pages import attach_until_stopped
from app.config import Settings
from app.errors import NotFoundError, PermissionDeniedError, UserFacingError
from app.extensions import _data_rights_text as text
from app.rights.cooldown import Cooldown
from app.rights.export import export_packed
from app.rights.guild_delete import check_deletion_cooldown, delete_guild_files
from app.rights.legacy_copies import erase_from_copies_async
from app.rights.member import erase_member, export_member
from app.rights.receipts import create_receipt, requested_by_discord
from app.shared.consent import start_sharing, stop_sharing
from app.shared.read import fetch_sharing_status
from app.shared.store import SharedStore

log = logging.getLogger(__name__)
loader = lightbulb.Loader()

CONFIRM_TIMEOUT_S = 120.0
DELETE_COOLDOWN_S = 600.0  # from the receipts: survives restarts
EXPORT_COOLDOWN_S = 60.0
IN_FLIGHT_WAIT_S = 10.0  # an erasure waits at most this for the member's commands already writing
# keyed by the guild's file path: bots over different folders (tests, shards) never share an entry
EXPORT_COOLDOWN = Cooldown(EXPORT_COOLDOWN_S, what="An export of this server's data")
MEMBER_EXPORT_COOLDOWN = Cooldown(EXPORT_COOLDOWN_S, what="An export of your data")
NOT_ADMIN_DELETE = "Only members with the Manage Server permission can delete its data."
EXPORT_MAX_RATIO = 20  # a file this many times the attachment limit never compresses under it

server_data = lightbulb.Group("server-data", "Export or delete everything the bot stores for this server",
                              contexts=GUILD_CONTEXT, default_member_permissions=ADMIN_DEFAULT)
my_data = lightbulb.Group("my-data", "Export or erase what the bot stores about you in this server",
                          contexts=GUILD_CONTEXT)


async def _guarded(ctx: MenuContext | ModalContext[Any], what: str, work: Callable[[], Awaitable[str]]) -> None:
    """Run a confirmation's work; answer with its sentence, a domain error's, or a reference id."""
    # acknowledge first: Discord drops a press or a submission not answered within 3 s
    if isinstance(ctx, MenuContext):
        await ctx.defer(edit=True)
    else:
        await ctx.defer(ephemeral=True)
    try:
        message = await work()
    except UserFacingError as error:
        message = error.user_message
    except Exception:
        ref = reference_id()
        log.exception("%s failed in guild %s for user %s (ref %s)", what, ctx.guild_id, ctx.user.id, ref)
        message = internal_error_message(ref)
    if isinstance(ctx, MenuContext):  # replace the question and its buttons with the outcome
        await ctx.respond(message, edit=True, components=[])
    else:
        await ctx.respond(message, ephemeral=True)


class _Confirm(Menu):
    """A danger button and Cancel; only the member who ran the command may press them."""

    def __init__(self, owner_id: int, label: str, on_confirm: Callable[[MenuContext], Awaitable[None]]) -> None:
        self.owner_id = owner_id
        self._on_confirm = on_confirm
        self.add_interactive_button(hikari.ButtonStyle.DANGER, self._confirm, label=label)
        self.add_interactive_button(hikari.ButtonStyle.SECONDARY, self._cancel, label=text.CANCEL_LABEL)

    async def predicate(self, ctx: MenuContext) -> bool:
        if ctx.user.id != self.owner_id:
            await ctx.respond(text.not_yours(), ephemeral=True)
            return False
        return True

    async def _confirm(self, ctx: MenuContext) -> None:
        ctx.stop_interacting()
        await self._on_confirm(ctx)

    async def _cancel(self, ctx: MenuContext) -> None:
        ctx.stop_interacting()
        await ctx.respond(text.cancelled(), edit=True, components=[])


async def _ask(ctx: lightbulb.Context, prompt: str, menu: _Confirm, clock: Clock) -> None:
    """The question with its buttons until a press, or until CONFIRM_TIMEOUT_S on the bot's clock (the sandbox's
    `clock +1d` expires it as a day would): then the buttons are gone and nothing can be confirmed late."""
    response_id = await ctx.respond(prompt, components=menu, ephemeral=True)
    handle = attach_until_stopped(menu, ctx.client)
    pressed = False

    async def expire() -> None:
        if pressed:
            return
        handle.stop_interacting()  # at once: a press from now on finds no menu
        await ctx.edit_response(response_id, text.timed_out(), components=[])

    timer = clock.call_later(CONFIRM_TIMEOUT_S, expire)
    try:
        await handle.wait()  # a press (confirm or cancel) or the expiry stops the menu
    finally:
        pressed = True
        timer.cancel()


async def _on_clock(waiting: Coroutine[Any, Any, object], clock: Clock) -> None:
    """`waiting` (a form's answer, bounded in real time too) until CONFIRM_TIMEOUT_S on the bot's clock (the
    sandbox's `clock +1d` passes it); then it is dropped: a form submitted later finds nothing listening, and
    nothing is deleted."""
    task = asyncio.ensure_future(waiting)

    async def expire() -> None:
        task.cancel()

    timer = clock.call_later(CONFIRM_TIMEOUT_S, expire)
    try:
        await asyncio.wait((task,))
    finally:
        timer.cancel()
        task.cancel()
    if not task.cancelled():
        task.result()  # the form's own error, if any


class _TypeServerName(Modal):
    """The last step before deleting a server's data: its name, typed by the admin who opened the form.

    Lightbulb routes a submission by custom id alone: whoever submits, from whatever server,
    reaches this form, so the submitter and the server are checked against the opener's.
    """

    def __init__(self, files: GuildFiles, expected: str, owner_id: int, forgetting: Forgetting) -> None:
        self.files = files
        self.forgetting = forgetting
        self.expected = expected
        self.owner_id = owner_id
        self.name = self.add_short_text_input(text.NAME_FIELD, min_length=1, max_length=100,
                                              placeholder=expected)

    async def on_submit(self, ctx: ModalContext[None]) -> None:
        await _guarded(ctx, "/server-data delete", lambda: self._delete(ctx))

    async def _delete(self, ctx: ModalContext[None]) -> str:
        if ctx.user.id != self.owner_id or ctx.guild_id != self.files.guild_id:
            return text.form_not_yours()
        typed = (ctx.value_for(self.name) or "").strip()
        if typed.casefold() != self.expected.strip().casefold():
            return text.name_mismatch()
        if ctx.member is None or not is_admin(ctx.member):
            raise PermissionDeniedError(NOT_ADMIN_DELETE)
        await check_deletion_cooldown(self.files, seconds=DELETE_COOLDOWN_S)
        self.forgetting.forget(self.files.guild_id)  # buffered XP must not recreate what is deleted
        try:
            deletion = await delete_guild_files(self.files, requested_by=requested_by_discord(ctx.user.id),
                                                reason="/server-data delete")
        except NotFoundError:
            return text.nothing_stored()
        finally:
            self.forgetting.forget(self.files.guild_id)
        return text.guild_deleted(deletion)


def _server_name(bot: hikari.GatewayBot, guild_id: int) -> str | None:
    """The name the admin must type (None when the cache has not seen the guild: the id is typed instead)."""
    guild = bot.cache.get_guild(guild_id)
    return guild.name if guild is not None else None


@server_data.register
class ServerDataExport(lightbulb.SlashCommand, name="export", hooks=[admin_only],
                       description="Download this server's whole database (compressed SQLite file)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, files: GuildFiles) -> None:
        """Send the server's file as an attachment, or say how the operator can export it."""
        if not files.path.exists():
            await ctx.respond(text.nothing_stored(), ephemeral=True)
            return
        limit = ctx.interaction.attachment_size_limit
        if (size := files.size()) > limit * EXPORT_MAX_RATIO:  # never worth copying to find out
            await ctx.respond(text.export_too_big_raw(size, limit, files.guild_id),
                              ephemeral=True)
            return
        async with EXPORT_COOLDOWN.claim(str(files.path)):  # recorded before the work: concurrent ones refused
            await ctx.defer(ephemeral=True)
            async with files.connect() as db:
                packed = await export_packed(db, max_bytes=limit)
        if packed.data is None:
            await ctx.respond(text.export_too_big(packed, limit, files.guild_id), ephemeral=True)
            return
        await ctx.respond(text.export_ready(packed), attachment=hikari.Bytes(packed.data, packed.filename),
                          ephemeral=True)


@server_data.register
class ServerDataDelete(lightbulb.SlashCommand, name="delete", hooks=[admin_only],
                       description="Delete everything the bot stores for this server (asks to confirm)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, files: GuildFiles, bot: hikari.GatewayBot,
                     forgetting: Forgetting, clock: Clock) -> None:
        """Button, then the server's name typed in a modal, then deletion with a receipt."""
        await check_deletion_cooldown(files, seconds=DELETE_COOLDOWN_S)
        name = _server_name(bot, files.guild_id)
        expected = name or str(files.guild_id)

        async def open_modal(press: MenuContext) -> None:
            if press.member is None or not is_admin(press.member):  # the permission may be gone since the command
                await press.respond(NOT_ADMIN_DELETE, edit=True, components=[])
                return
            modal = _TypeServerName(files, expected, ctx.user.id, forgetting)
            custom_id = f"server-data-delete:{uuid.uuid4().hex}"
            await press.respond_with_modal(text.modal_title(), custom_id, components=modal)
            await _on_clock(modal.attach(press.client, custom_id, timeout=CONFIRM_TIMEOUT_S), clock)

        await _ask(ctx, text.delete_warning(name, expected), _Confirm(ctx.user.id, text.DELETE_LABEL, open_modal),
                   clock)


@my_data.register
class MyDataExport(lightbulb.SlashCommand, name="export",
                   description="Get a copy of what the bot stores about you in this server (JSON)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, files: GuildFiles) -> None:
        """The member's own rows in this server, as an ephemeral JSON attachment."""
        if not files.path.exists():
            await ctx.respond(text.member_nothing_stored(), ephemeral=True)
            return
        async with MEMBER_EXPORT_COOLDOWN.claim((str(files.path), int(ctx.user.id))), files.connect() as db:
            data = await export_member(db, int(ctx.user.id))
        payload = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
        await ctx.respond(text.member_export_ready(int(data["rows"])), ephemeral=True,
                          attachment=hikari.Bytes(payload, f"my-data-{files.guild_id}.json"))


@my_data.register
class MyDataDelete(lightbulb.SlashCommand, name="delete",
                   description="Erase what the bot stores about you in this server (asks to confirm)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, files: GuildFiles, forgetting: Forgetting,
                     clock: Clock) -> None:
        """A confirmation button, then the member's rows erased in this server, with a receipt."""
        user_id = int(ctx.user.id)

        async def erase() -> str:
            forgetting.forget(files.guild_id, user_id)  # buffered XP must not write the member back
            # their commands already holding the file finish first: what they write is erased with the rest
            await forgetting.settled(files.guild_id, user_id, within_s=IN_FLIGHT_WAIT_S)
            async with files.connect() as db:
                erased = await erase_member(db, user_id)
            forgetting.forget(files.guild_id, user_id)
            # the same member in this server, in the legacy copies kept after the split
            await erase_from_copies_async(files.path.parent, user_id=user_id, guild_id=files.guild_id)
            if erased.changed_anything:
                async with files.connect_bot() as bot_db:
                    await create_receipt(bot_db, scope="member", guild_id=files.guild_id, user_id=user_id,
                                         requested_by=requested_by_discord(user_id),
                                         reason="/my-data delete" + erased.receipt_note(),
                                         rows_deleted=erased.rows_deleted)
            return text.member_erased(erased)

        async def confirmed(press: MenuContext) -> None:
            await _guarded(press, "/my-data delete", erase)

        await _ask(ctx, text.erase_warning(), _Confirm(user_id, text.ERASE_LABEL, confirmed), clock)


sharing = server_data.subgroup("sharing", "Share this server's totals across servers (off unless turned on)")


@sharing.register
class SharingOn(lightbulb.SlashCommand, name="on", hooks=[admin_only],
                description="Publish this server's totals (never members' own unless they join) across servers"):
    compare = lightbulb.boolean("compare", "Let other servers compare against this one by name (default: yes)",
                                default=True)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, files: GuildFiles, shared: SharedStore, bot: hikari.GatewayBot,
                     clock: Clock) -> None:
        """Publish this server's figures now; members' follow only for those who join."""
        name = _server_name(bot, files.guild_id) or str(files.guild_id)
        async with files.connect() as db:
            await start_sharing(shared, db, name, allow_compare=self.compare, now=clock.now())
        await ctx.respond(text.sharing_on(name, self.compare), ephemeral=True)


@sharing.register
class SharingOff(lightbulb.SlashCommand, name="off", hooks=[admin_only],
                 description="Withdraw this server's totals and its members' contributions, at once"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, shared: SharedStore, clock: Clock) -> None:
        """Remove the server's row and its members' contributions from the store."""
        was_on = await stop_sharing(shared, int(ctx.guild_id or 0), clock.now())
        await ctx.respond(text.sharing_off(was_on), ephemeral=True)


@sharing.register
class SharingStatus(lightbulb.SlashCommand, name="status", hooks=[admin_only],
                    description="Whether this server shares, what is published and how many members joined"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, shared: SharedStore) -> None:
        """The server's published row, read from the store."""
        row, joined = await fetch_sharing_status(await shared.db(), int(ctx.guild_id or 0))
        await ctx.respond(text.sharing_status(row, joined), ephemeral=True)


class Privacy(lightbulb.SlashCommand, name="privacy", contexts=GUILD_CONTEXT,
              description="What the bot stores about you, where, for how long, and how to remove it"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, settings: Settings) -> None:
        """Explain what is stored and how to export or delete it."""
        embed = text.privacy_embed(settings.retention_days, settings.legacy_keep_days,
                                   settings.backup_retention_days)
        await ctx.respond(embed=embed, ephemeral=True)


loader.command(server_data)
loader.command(my_data)
loader.command(Privacy)
