"""`/global join|leave|leaderboard|stats`: members' totals across the servers that share, by consent.

Every answer comes from the shared-aggregates store alone; no command here opens another server's file.
"""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.clock import Clock
from app.bot.deferral import Deferral
from app.bot.pages import respond_paginated
from app.db import GuildDb
from app.errors import InvalidInputError
from app.features.leaderboard import Kind, describe_value, parse_kind
from app.features.text import shown
from app.shared.consent import join_here, leave_everywhere
from app.shared.publish import clean_name
from app.shared.read import GlobalBoard, GlobalStats, fetch_global_board, fetch_global_stats
from app.shared.store import SharedStore

loader = lightbulb.Loader()

global_group = lightbulb.Group("global", "Leaderboards and figures across the servers that share (by consent)",
                               contexts=GUILD_CONTEXT)
TITLES = {Kind.XP: "Global XP leaderboard", Kind.CHAPTERS: "Global chapters read",
          Kind.ACHIEVEMENTS: "Global achievements unlocked"}


def board_lines(board: GlobalBoard) -> list[str]:
    return [f"**#{e.rank}** {shown(e.name, 32)} — {describe_value(board.kind, e.value)}" for e in board.entries]


def own_line(board: GlobalBoard) -> str:
    if board.own is None:
        return f"You are not on this leaderboard ({board.ranked:,} ranked); /global join publishes your totals"
    return f"You: #{board.own.rank} of {board.ranked:,} with {describe_value(board.kind, board.own.value)}"


def stats_embed(stats: GlobalStats) -> hikari.Embed:
    embed = hikari.Embed(title="Across the servers that share",
                         description="Totals of the servers whose admins turned sharing on.")
    embed.add_field("Servers sharing", f"{stats.servers:,}", inline=True)
    embed.add_field("Members with an AniList link", f"{stats.linked_members:,}", inline=True)
    embed.add_field("Members on the global leaderboards", f"{stats.published_members:,}", inline=True)
    embed.add_field("Chapters read", f"{stats.chapters_total:,} ({stats.chapters_month:,} this month)", inline=True)
    genres = ", ".join(f"{shown(g, 40)} ({n:,})" for g, n in stats.top_genres) or "none yet"
    embed.add_field("Top genres", genres)
    return embed


@global_group.register
class GlobalJoin(lightbulb.SlashCommand, name="join",
                 description="Publish your totals from this server on the global leaderboards"):
    display_name = lightbulb.string("display-name", "The name shown on global leaderboards (default: the one "
                                    "you chose before, else your username)", default=None,
                                    min_length=1, max_length=32)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, shared: SharedStore, clock: Clock) -> None:
        """Publish the member's figures of this server now, under the name they chose."""
        if self.display_name is not None and not clean_name(self.display_name):
            raise InvalidInputError("A display name needs at least one visible character.")
        name, figures = await join_here(shared, db, int(ctx.user.id), self.display_name, ctx.user.username,
                                        clock.now())
        await ctx.respond(f"You are on the global leaderboards as “{shown(name, 32)}” with this server's "
                          f"{figures.chapters:,} chapters, {figures.xp:,} XP and {figures.achievements:,} "
                          "achievements (your totals add every sharing server where you joined). /global leave "
                          "withdraws them everywhere at once.", ephemeral=True)


@global_group.register
class GlobalLeave(lightbulb.SlashCommand, name="leave",
                  description="Withdraw your totals from the global leaderboards, everywhere, at once"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, shared: SharedStore) -> None:
        """Remove the member's published row and every join."""
        left = await leave_everywhere(shared, int(ctx.user.id))
        await ctx.respond("Your totals are no longer published anywhere." if left
                          else "You were not on the global leaderboards.", ephemeral=True)


@global_group.register
class GlobalLeaderboard(lightbulb.SlashCommand, name="leaderboard",
                        description="Top consenting members across the servers that share"):
    deferral = Deferral.PUBLIC
    kind = lightbulb.string("kind", "Which leaderboard", default=Kind.CHAPTERS.value,
                            choices=[lightbulb.Choice("Chapters read", Kind.CHAPTERS.value),
                                     lightbulb.Choice("XP", Kind.XP.value),
                                     lightbulb.Choice("Achievements", Kind.ACHIEVEMENTS.value)])

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, shared: SharedStore) -> None:
        """The top of the store's index, the caller's own rank in every page's footer."""
        board = await fetch_global_board(await shared.db(), parse_kind(self.kind), int(ctx.user.id))
        await respond_paginated(ctx, TITLES[board.kind], board_lines(board), footer=own_line(board))


@global_group.register
class GlobalStatsCommand(lightbulb.SlashCommand, name="stats",
                         description="Totals over the servers that share: members, chapters, top genres"):
    deferral = Deferral.PUBLIC

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, shared: SharedStore) -> None:
        """Totals from the store alone."""
        await ctx.respond(embed=stats_embed(await fetch_global_stats(await shared.db())))


loader.command(global_group)


@loader.listener(hikari.StartedEvent)
async def open_shared_store(_: hikari.StartedEvent, shared: SharedStore) -> None:
    """Open the store at start: marks are kept (and published) only once it knows who shares."""
    await shared.open_existing()
