"""`/stats [member:] [refresh:]`: AniList manga statistics, kept in this server's file and refreshed when old."""
from __future__ import annotations

from urllib.parse import quote

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.clock import Clock
from app.bot.di import CommandLease
from app.config import Settings
from app.features import stats
from app.features.anilist_link import Link
from app.features.text import shown
from app.services.anilist import AniListClient

loader = lightbulb.Loader()


def stats_embed(who: hikari.User, link: Link, result: stats.Stats) -> hikari.Embed:
    mean = f"{result.mean_score:g}" if result.mean_score else "no scores yet"
    embed = hikari.Embed(title=f"{who.username}'s manga stats"[:256],
                         description=f"AniList: [{shown(link.anilist_name)}](https://anilist.co/user/"
                                     f"{quote(link.anilist_name)})")
    embed.add_field("Manga", f"{result.total_manga:,}", inline=True)
    embed.add_field("Chapters read", f"{result.total_chapters:,}", inline=True)
    embed.add_field("Volumes read", f"{result.total_volumes:,}", inline=True)
    embed.add_field("Mean score", mean, inline=True)
    embed.add_field("Top genres", ", ".join(shown(g, 40) for g in result.top_genres) or "none yet")
    if result.note:
        embed.add_field("Note", result.note[:1024])
    return embed.set_footer(f"From AniList, fetched {result.cached_at} UTC")


@loader.command
class Stats(lightbulb.SlashCommand, name="stats", description="A member's AniList manga statistics",
            contexts=GUILD_CONTEXT):
    member = lightbulb.user("member", "Whose stats (default: yours)", default=None)
    refresh = lightbulb.boolean("refresh", "Ask AniList now rather than show recent stats", default=False)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, client: AniListClient, settings: Settings,
                     cooldown: stats.RefreshCooldown, clock: Clock) -> None:
        """Stored stats when recent; otherwise (or on refresh) AniList's, stored for next time."""
        who: hikari.User = self.member or ctx.user
        whose = "You have" if who.id == ctx.user.id else f"{shown(who.username)} has"
        plan = await stats.plan_stats(await lease.open(), int(who.id), ttl_hours=settings.stats_ttl_hours,
                                      refresh=self.refresh, whose=whose, now=clock.now())
        if self.refresh:
            cooldown.claim(int(ctx.guild_id or 0), int(ctx.user.id))
        result = plan.cached
        if plan.stale or result is None:
            await lease.release()  # not held while AniList answers; refresh_stats opens it again to store
            result = await stats.refresh_stats(lease.open, client, plan, clock.now())
        await ctx.respond(embed=stats_embed(who, plan.link, result), ephemeral=True)
