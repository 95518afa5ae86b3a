"""`/server info`: what the bot holds for this server; `/server compare`: against sharing servers (admin only)."""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.checks import ADMIN_DEFAULT, GUILD_CONTEXT, admin_only
from app.bot.embeds import fit_lines
from app.bot.queries import GuildReport, fetch_guild_report
from app.cli.output import human_bytes
from app.config import Settings
from app.db import GuildDb
from app.features.text import shown
from app.ops import quota
from app.shared.read import Comparison, fetch_comparison
from app.shared.store import SharedStore

loader = lightbulb.Loader()

server = lightbulb.Group("server", "This server's data held by the bot", contexts=GUILD_CONTEXT,
                         default_member_permissions=ADMIN_DEFAULT)


def info_embed(report: GuildReport, members: int | None, max_mb: int = 100) -> hikari.Embed:
    rows = sum(report.tables.values())
    embed = hikari.Embed(title="This server's database",
                         description="Everything the bot stores for this server lives in one file, "
                                     "separate from every other server.")
    embed.add_field("Members (Discord's count)", "unknown" if members is None else str(members), inline=True)
    embed.add_field("Database size", human_bytes(report.size_bytes), inline=True)
    embed.add_field("Schema version", str(report.schema_version), inline=True)
    embed.add_field("Storage limit", f"{quota.used_fraction(report.size_bytes, max_mb):.0%} of {max_mb} MB used",
                    inline=True)
    if quota.is_near(report.size_bytes, max_mb):
        embed.add_field("Storage nearly full", quota.near_quota_warning(report.size_bytes, max_mb))
    filled = [f"{name}: {count}" for name, count in sorted(report.tables.items()) if count]
    embed.add_field(f"Rows ({rows} in {len(report.tables)} tables)", fit_lines(filled) or "no data yet")
    return embed


@server.register
class ServerInfo(lightbulb.SlashCommand, name="info", description="Size, schema version and rows of this "
                 "server's database", hooks=[admin_only]):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, bot: hikari.GatewayBot, settings: Settings) -> None:
        """Show this server's database file."""
        report = await fetch_guild_report(db)
        members = await _member_count(bot, db.guild_id)
        await ctx.respond(embed=info_embed(report, members, settings.max_guild_db_mb), ephemeral=True)


def compare_embed(comparison: Comparison) -> hikari.Embed:
    mine, other = comparison.mine, comparison.other
    embed = hikari.Embed(title=f"This server against {shown(other.label, 100)}",
                         description=f"From the cross-server figures of {comparison.servers:,} sharing server(s).")
    for label, ours, theirs in (("Members with an AniList link", mine.members, other.members),
                                ("Chapters read this month", mine.chapters_month, other.chapters_month),
                                ("Chapters read in total", mine.chapters_total, other.chapters_total),
                                ("Active challenges", mine.active_challenges, other.active_challenges)):
        embed.add_field(label, f"{ours:,g} here · {theirs:,g} there", inline=True)
    genres = ", ".join(shown(g, 40) for g, _ in mine.top_genres) or "none yet"
    embed.add_field("Top genres here", genres)
    if other.top_genres:
        embed.add_field("Top genres there", ", ".join(shown(g, 40) for g, _ in other.top_genres))
    return embed


@server.register
class ServerCompare(lightbulb.SlashCommand, name="compare", hooks=[admin_only],
                    description="This server against the median of sharing servers, or a named one"):
    other = lightbulb.string("other", "A sharing server's name or id that allows comparisons (default: the median)",
                             default=None, max_length=100)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, shared: SharedStore) -> None:
        """Both sides from the shared store alone: no other server's file is opened."""
        comparison = await fetch_comparison(await shared.db(), int(ctx.guild_id or 0), self.other)
        await ctx.respond(embed=compare_embed(comparison), ephemeral=True)


async def _member_count(bot: hikari.GatewayBot, guild_id: int) -> int | None:
    """Discord's count: the bot is told about few members (no presence intent, no chunking)."""
    try:
        guild = await bot.rest.fetch_guild(guild_id)
    except hikari.HikariError:
        return None
    return guild.approximate_member_count


loader.command(server)
