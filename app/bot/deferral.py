"""Discord drops an interaction not answered within 3 s: every command defers before it opens any file.

The hook runs after the checks (which answer at once when they refuse) and before the command's
dependencies are injected: a `GuildDb` opens only after Discord has its deferral. A command that
answers with a modal, or publicly, says so with a class attribute:

    class Ask(lightbulb.SlashCommand, name="ask", description="..."):
        deferral = Deferral.NONE      # answers with a modal at once (a modal cannot follow a deferral)
"""
from __future__ import annotations

import enum

import lightbulb


class Deferral(enum.Enum):
    EPHEMERAL = "ephemeral"  # the default: the bot's answers are private
    PUBLIC = "public"
    NONE = "none"


@lightbulb.hook(lightbulb.ExecutionSteps.PRE_INVOKE, skip_when_failed=True, name="defer_first")
async def defer_first(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    """Acknowledge the command ("thinking…") before its work; its answer then completes that message."""
    mode = getattr(ctx.command, "deferral", Deferral.EPHEMERAL)
    if mode is not Deferral.NONE:
        await ctx.defer(ephemeral=mode is Deferral.EPHEMERAL)
