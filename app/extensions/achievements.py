"""`/achievements [member:]`: unlocked and locked achievements with progress, in this server."""
from __future__ import annotations

import lightbulb

from app.bot.announce import announce_unlocks
from app.bot.checks import GUILD_CONTEXT
from app.bot.clock import Clock
from app.bot.deferral import Deferral
from app.bot.names import display_name
from app.bot.pages import respond_paginated
from app.db import GuildDb
from app.errors import InvalidInputError
from app.features.achievements import RULES, check_achievements, format_unlocks, list_achievement_status

loader = lightbulb.Loader()
BOTS_HAVE_NONE = "Bots don't collect achievements; pick a member."


@loader.command
class Achievements(lightbulb.SlashCommand, name="achievements",
                   description="Achievements unlocked and still locked, with progress", contexts=GUILD_CONTEXT):
    deferral = Deferral.PUBLIC
    member = lightbulb.user("member", "Whose achievements (default: yours)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, clock: Clock) -> None:
        """Evaluate the rules for the member, record new unlocks once, show every achievement."""
        target = self.member or ctx.user
        if target.is_bot:
            raise InvalidInputError(BOTS_HAVE_NONE)
        new = await check_achievements(db, int(target.id), clock.now())
        statuses = await list_achievement_status(db, int(target.id))
        done = sum(s.unlocked_at is not None for s in statuses)
        title = f"Achievements of {display_name(target)} ({done} of {len(RULES)} unlocked)"
        await respond_paginated(ctx, title, [s.line() for s in statuses], content=format_unlocks(new))
        await announce_unlocks(ctx.client.rest, db, int(target.id), new)
