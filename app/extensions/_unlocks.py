"""Replies that may unlock achievements: the reply names new ones, the announcement channel hears of them once."""
from __future__ import annotations

import lightbulb

from app.bot.announce import announce_unlocks
from app.bot.clock import Clock
from app.db import GuildDb
from app.features.achievements import check_achievements, format_unlocks


async def respond_with_unlocks(ctx: lightbulb.Context, db: GuildDb, text: str, clock: Clock) -> None:
    """Reply `text` privately, plus any achievement this member has just unlocked in this server."""
    user_id = int(ctx.user.id)
    unlocked = await check_achievements(db, user_id, clock.now())
    lines = format_unlocks(unlocked)
    await ctx.respond(f"{text}\n{lines}" if lines else text, ephemeral=True)
    await announce_unlocks(ctx.client.rest, db, user_id, unlocked)
