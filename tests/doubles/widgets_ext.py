"""A test-only extension that uses every answer shape the double must carry (loaded by tests only)."""
from __future__ import annotations

import asyncio

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.di import EventGuildDb
from app.bot.queries import increment_setting_counter

loader = lightbulb.Loader()
widgets = lightbulb.Group("widgets", "Answer shapes for the double's tests", contexts=GUILD_CONTEXT)


class NameModal(lightbulb.components.Modal):
    def __init__(self) -> None:
        self.name = self.add_short_text_input("Server name", custom_id="server_name")

    async def on_submit(self, ctx: lightbulb.components.ModalContext) -> None:
        await ctx.respond(f"You typed {ctx.value_for(self.name)!r}.", ephemeral=True)


class ConfirmMenu(lightbulb.components.Menu):
    def __init__(self) -> None:
        self.add_interactive_button(hikari.ButtonStyle.DANGER, self.on_confirm, label="Confirm",
                                    custom_id="confirm")
        self.add_interactive_button(hikari.ButtonStyle.SECONDARY, self.on_cancel, label="Cancel",
                                    custom_id="cancel")

    async def on_confirm(self, ctx: lightbulb.components.MenuContext) -> None:
        modal = NameModal()
        await ctx.respond_with_modal("Type the server's name", "name-modal", components=modal)
        ctx.stop_interacting()
        await modal.attach(ctx.client, "name-modal", timeout=10)

    async def on_cancel(self, ctx: lightbulb.components.MenuContext) -> None:
        await ctx.respond("Cancelled; nothing changed.", edit=True, components=[])
        ctx.stop_interacting()


@widgets.register
class Confirm(lightbulb.SlashCommand, name="confirm", description="Buttons, then a modal"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        menu = ConfirmMenu()
        await ctx.respond("Really?", components=menu, ephemeral=True)
        await menu.attach(ctx.client, timeout=10)


@widgets.register
class Later(lightbulb.SlashCommand, name="later", description="A follow-up with buttons"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        await ctx.respond("Working on it.", ephemeral=True)
        menu = ConfirmMenu()
        await ctx.respond("Now confirm:", components=menu, ephemeral=True)
        await menu.attach(ctx.client, timeout=10)


@widgets.register
class File(lightbulb.SlashCommand, name="file", description="An attachment"):
    size = lightbulb.integer("size", "Bytes in the file", min_value=0, default=5)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        await ctx.respond("Here it is.", attachment=hikari.Bytes(b"x" * self.size, "report.txt"), ephemeral=True)


@widgets.register
class Slow(lightbulb.SlashCommand, name="slow", description="Deferred, then edited, then a follow-up"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        await ctx.defer(ephemeral=True)
        await asyncio.sleep(0.05)
        await ctx.respond("Done after a while.")
        await ctx.respond("And one more thing.", ephemeral=True)


@loader.listener(hikari.MemberCreateEvent)
async def count_joins(event: hikari.MemberCreateEvent, guild_dbs: EventGuildDb) -> None:
    """A listener reaches the database of its event's guild, and only that one."""
    async with guild_dbs.for_event(event) as db:  # type: ignore[arg-type]  # a member event is no GuildEvent
        await increment_setting_counter(db, "test.joins", user_id=int(event.user.id))


@loader.listener(hikari.GuildMessageCreateEvent)
async def explode(event: hikari.GuildMessageCreateEvent) -> None:
    raise RuntimeError("listener exploded")


loader.command(widgets)
