"""A test-only extension: `/pages show count:N` answers N numbered lines through the shared paginator."""
from __future__ import annotations

import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.pages import respond_paginated

loader = lightbulb.Loader()
pages = lightbulb.Group("pages", "The paginator's test command", contexts=GUILD_CONTEXT)


@pages.register
class Show(lightbulb.SlashCommand, name="show", description="Numbered lines, paginated"):
    count = lightbulb.integer("count", "How many lines", min_value=0, max_value=1_000)
    timeout_ms = lightbulb.integer("timeout_ms", "Menu timeout", min_value=1, default=300_000)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        lines = [f"line {i}" for i in range(1, self.count + 1)]
        await respond_paginated(ctx, "Lines", lines, footer="your rank: 7", timeout=self.timeout_ms / 1000)


loader.command(pages)
