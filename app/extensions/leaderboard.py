"""`/leaderboard kind:(xp|chapters|achievements)`: this server only, paginated, with the caller's own rank."""
from __future__ import annotations

import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.deferral import Deferral
from app.bot.di import CommandLease
from app.bot.pages import respond_paginated
from app.extensions.xp import XpService
from app.features.leaderboard import Kind, Leaderboard, describe_value, fetch_leaderboard, parse_kind

loader = lightbulb.Loader()

TITLES = {Kind.XP: "XP leaderboard", Kind.CHAPTERS: "Chapters read", Kind.ACHIEVEMENTS: "Achievements unlocked"}


def leaderboard_lines(board: Leaderboard) -> list[str]:
    lines = [f"**#{e.rank}** <@{e.user_id}> — {describe_value(board.kind, e.value)}" for e in board.entries]
    if board.ranked > len(board.entries):  # the list stops at MAX_LISTED: say so rather than look complete
        lines.append(f"… and {board.ranked - len(board.entries):,} more ranked below #{len(board.entries):,}")
    return lines


def own_rank_line(board: Leaderboard) -> str:
    if board.own is None:
        return f"You are not on this leaderboard yet ({board.ranked:,} ranked)"
    return f"You: #{board.own.rank} of {board.ranked:,} with {describe_value(board.kind, board.own.value)}"


@loader.command
class LeaderboardCommand(lightbulb.SlashCommand, name="leaderboard", description="This server's top members",
                         contexts=GUILD_CONTEXT):
    deferral = Deferral.PUBLIC
    kind = lightbulb.string("kind", "Which leaderboard", default=Kind.XP.value,
                            choices=[lightbulb.Choice("XP", Kind.XP.value),
                                     lightbulb.Choice("Chapters read", Kind.CHAPTERS.value),
                                     lightbulb.Choice("Achievements", Kind.ACHIEVEMENTS.value)])

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, xp: XpService) -> None:
        """Show the leaderboard (with the messages already counted written), the caller's rank on every page."""
        kind = parse_kind(self.kind)
        if lease.guild_id is not None:
            await xp.settled(lease.guild_id)
        board = await fetch_leaderboard(await lease.open(), kind, int(ctx.user.id))
        await respond_paginated(ctx, TITLES[board.kind], leaderboard_lines(board), footer=own_rank_line(board))
