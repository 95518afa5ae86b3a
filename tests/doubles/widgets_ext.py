"""A test-only extension that uses every answer shape the double must carry (loaded by tests only)."""
from __future__ import annotations

import asyncio

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.deferral import Deferral
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


@widgets.register
class Perms(lightbulb.SlashCommand, name="perms", description="The permissions Discord sent"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        member = int(ctx.member.permissions) if ctx.member else None
        await ctx.respond(f"member={member} app={int(ctx.interaction.app_permissions or 0)}", ephemeral=True)


@widgets.register
class Public(lightbulb.SlashCommand, name="public", description="Buttons everyone in the channel sees"):
    deferral = Deferral.PUBLIC

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        menu = ConfirmMenu()
        await ctx.respond("Anyone?", components=menu)
        await menu.attach(ctx.client, timeout=10)


@widgets.register
class Announce(lightbulb.SlashCommand, name="announce", description="Posts messages in the channel"):
    count = lightbulb.integer("count", "How many messages", min_value=1, max_value=10, default=1)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, bot: hikari.GatewayBot) -> None:
        for number in range(self.count):
            await bot.rest.create_message(ctx.channel_id, f"Announcement {number + 1}")
        await ctx.respond(f"Posted {self.count}.", ephemeral=True)


@widgets.register
class Who(lightbulb.SlashCommand, name="who", description="Entity options, read from resolved data"):
    user = lightbulb.user("user", "A member")
    role = lightbulb.role("role", "A role", default=None)
    channel = lightbulb.channel("channel", "A channel", default=None)
    file = lightbulb.attachment("file", "A file", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        resolved = ctx.interaction.resolved
        member = resolved.members.get(self.user.id) if resolved else None
        parts = [f"user={self.user.username}", f"member_roles={len(member.role_ids) if member else None}",
                 f"role={self.role.name if self.role else None}",
                 f"channel={self.channel.name if self.channel else None}",
                 f"file={f'{self.file.filename}:{self.file.size}' if self.file else None}"]
        await ctx.respond(" ".join(parts), ephemeral=True)


TITLES = ["Berserk", "Bleach", "Blue Period", "Chainsaw Man", "Frieren"]


async def suggest_titles(ctx: lightbulb.AutocompleteContext[str]) -> None:
    typed = str(ctx.focused.value or "").casefold()
    await ctx.respond([t for t in TITLES if t.casefold().startswith(typed)])


class GenreMenu(lightbulb.components.Menu):
    def __init__(self) -> None:
        self.genres = self.add_text_select(["Action", "Drama", "Romance"], self.on_pick, placeholder="Pick genres",
                                           max_values=2)

    async def on_pick(self, ctx: lightbulb.components.MenuContext) -> None:
        await ctx.respond(f"Picked {', '.join(ctx.selected_values_for(self.genres))}.", edit=True, components=[])
        ctx.stop_interacting()


@widgets.register
class Pick(lightbulb.SlashCommand, name="pick", description="Autocomplete, then a select menu"):
    title = lightbulb.string("title", "A manga", autocomplete=suggest_titles)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        menu = GenreMenu()
        await ctx.respond(f"Genres for {self.title}?", components=menu, ephemeral=True)
        await menu.attach(ctx.client, timeout=10)


@loader.listener(hikari.MemberCreateEvent)
async def count_joins(event: hikari.MemberCreateEvent, guild_dbs: EventGuildDb) -> None:
    """A listener reaches the database of its event's guild, and only that one."""
    async with guild_dbs.for_event(event) as db:  # type: ignore[arg-type]  # a member event is no GuildEvent
        await increment_setting_counter(db, "test.joins", user_id=int(event.user.id))


@loader.listener(hikari.GuildMessageCreateEvent)
async def explode(event: hikari.GuildMessageCreateEvent) -> None:
    raise RuntimeError("listener exploded")


loader.command(widgets)
