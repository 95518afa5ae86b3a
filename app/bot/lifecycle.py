"""The bot joining and leaving guilds, and shutting down: registry rows, evictions, closed files."""
from __future__ import annotations

import logging

import hikari

from app.config import Settings
from app.db import GuildDatabaseManager
from app.db.registry import record_join, record_leave

log = logging.getLogger(__name__)


class Lifecycle:
    """Listeners on the GatewayBot that keep the bot-wide registry and the manager in step with Discord."""

    def __init__(self, manager: GuildDatabaseManager, settings: Settings) -> None:
        self._manager = manager
        self._settings = settings

    def subscribe(self, bot: hikari.GatewayBot) -> None:
        bot.subscribe(hikari.GuildJoinEvent, self.on_guild_seen)
        bot.subscribe(hikari.GuildAvailableEvent, self.on_guild_seen)
        bot.subscribe(hikari.GuildLeaveEvent, self.on_guild_leave)

    async def on_guild_seen(self, event: hikari.GuildJoinEvent | hikari.GuildAvailableEvent) -> None:
        """Added to a guild, or found in it at startup: any pending purge of its file is cancelled."""
        async with self._manager.connect_bot() as bot_db:
            await record_join(bot_db, int(event.guild_id), name=event.guild.name)

    async def on_guild_leave(self, event: hikari.GuildLeaveEvent) -> None:
        """Removed from a guild: record when (the purge counts from it) and close its file; the file stays."""
        guild_id = int(event.guild_id)
        async with self._manager.connect_bot() as bot_db:
            await record_leave(bot_db, guild_id, retention_days=self._settings.retention_days)
        await self._manager.evict(guild_id)
        log.info("left guild %s; its file is kept for %s day(s)", guild_id, self._settings.retention_days)
