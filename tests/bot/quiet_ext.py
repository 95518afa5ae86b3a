"""A test-only extension: `/quiet …` commands that return without answering (a bug the bot must cover).

`now` returns at once; `later` and `later-public` open this server's file first (a test holds the open to
get them deferred), privately and publicly.
"""
from __future__ import annotations

import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.deferral import Deferral
from app.db import GuildDb

loader = lightbulb.Loader()
quiet = lightbulb.Group("quiet", "Commands that forget to answer", contexts=GUILD_CONTEXT)


@quiet.register
class Now(lightbulb.SlashCommand, name="now", description="Returns at once without answering"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Nothing: no answer."""


@quiet.register
class Later(lightbulb.SlashCommand, name="later", description="Reads this server's file, answers nothing"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Read, then no answer."""
        await db.execute_fetchone("SELECT 1")


@quiet.register
class LaterPublic(lightbulb.SlashCommand, name="later-public", description="The same, deferred publicly"):
    deferral = Deferral.PUBLIC

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Read, then no answer."""
        await db.execute_fetchone("SELECT 1")


loader.command(quiet)
