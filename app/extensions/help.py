"""`/help`: the commands this member can use here, grouped, one line each (admin ones only for admins).

Built from the commands the client actually registered, so it never lists a command that is not
loaded nor misses a new one (an unknown top-level name lands under "More").
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import hikari
import lightbulb

from app.bot.checks import ADMIN_PERMISSIONS, GUILD_CONTEXT, is_admin

loader = lightbulb.Loader()

SECTIONS: dict[str, tuple[str, ...]] = {
    "Reading": ("anilist", "manga", "stats", "recommend"),
    "Community": ("profile", "achievements", "leaderboard", "challenge", "invites", "global"),
    "Steam": ("steam",),
    "Your data": ("my-data", "privacy"),
    "General": ("help",),
}
ADMIN_SECTION, OTHER_SECTION = "Server admin", "More"
FIELD_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class HelpLine:
    name: str  # qualified: "manga update"
    description: str
    admin: bool

    def text(self) -> str:
        return f"`/{self.name}` — {self.description}"


def _is_admin_command(data: lightbulb.commands.CommandData, inherited: bool) -> bool:
    needs = data.default_member_permissions
    declared = needs is not hikari.UNDEFINED and bool(needs & ADMIN_PERMISSIONS)
    return inherited or declared or any(getattr(hook, "name", "") == "admin_only" for hook in data.hooks)


def _walk(item: object, prefix: str, admin: bool) -> Iterator[HelpLine]:
    if isinstance(item, lightbulb.Group | lightbulb.SubGroup):
        perms = getattr(item, "default_member_permissions", hikari.UNDEFINED)
        group_admin = admin or (perms is not hikari.UNDEFINED and bool(perms & ADMIN_PERMISSIONS))
        for sub in item.subcommands.values():
            yield from _walk(sub, f"{prefix}{item.name} ", group_admin)
        return
    data = getattr(item, "_command_data", None)
    if isinstance(data, lightbulb.commands.CommandData) and data.type is hikari.CommandType.SLASH:
        yield HelpLine(f"{prefix}{data.name}", data.description, _is_admin_command(data, admin))


def help_lines(commands: Iterable[object]) -> list[HelpLine]:
    """Every slash command and subcommand the client registered, in name order."""
    return sorted((line for command in commands for line in _walk(command, "", False)), key=lambda line: line.name)


def section_of(line: HelpLine) -> str:
    if line.admin:
        return ADMIN_SECTION
    top = line.name.split()[0]
    return next((section for section, names in SECTIONS.items() if top in names), OTHER_SECTION)


def help_embed(lines: list[HelpLine], *, admin: bool) -> hikari.Embed:
    embed = hikari.Embed(title="What you can do here",
                         description="Everything the bot keeps for this server stays in this server.")
    order = [*SECTIONS, OTHER_SECTION, ADMIN_SECTION]
    for section in order:
        texts = [line.text() for line in lines if section_of(line) == section and (admin or not line.admin)]
        value = ""
        for text in texts:  # a section longer than a field continues in the next one
            if len(value) + len(text) + 1 > FIELD_LIMIT:
                embed.add_field(section, value)
                value = ""
            value = f"{value}\n{text}" if value else text
        if value:
            embed.add_field(section, value)
    return embed


@loader.command
class Help(lightbulb.SlashCommand, name="help", description="The commands you can use here, one line each",
           contexts=GUILD_CONTEXT):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """List the commands; admin commands only for members with Manage Server."""
        admin = ctx.member is not None and is_admin(ctx.member)
        await ctx.respond(embed=help_embed(help_lines(ctx.client.registered_commands), admin=admin), ephemeral=True)
