"""`/server info`: what the bot holds for this server (admin only)."""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.checks import ADMIN_DEFAULT, GUILD_CONTEXT, admin_only
from app.bot.embeds import fit_lines
from app.bot.queries import GuildReport, fetch_guild_report
from app.cli.output import human_bytes
from app.config import Settings
from app.db import GuildDb
from app.ops import quota

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


async def _member_count(bot: hikari.GatewayBot, guild_id: int) -> int | None:
    """Discord's count: the bot is told about few members (no presence intent, no chunking)."""
    try:
        guild = await bot.rest.fetch_guild(guild_id)
    except hikari.HikariError:
        return None
    return guild.approximate_member_count


loader.command(server)
