"""The bot joining and leaving guilds, and its own start and stop: registry rows, evictions, retention."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import hikari

from app.bot.clock import Clock
from app.config import Settings
from app.db import GuildDatabaseManager
from app.db.files import set_aside_in
from app.db.ids import guild_id_from_path
from app.db.registry import record_absent, record_join, record_leave, record_present
from app.rights.guild_delete import finish_interrupted_deletions
from app.rights.retention import DEFAULT_INTERVAL_S, PurgeResult, purge_expired, upkeep_round

log = logging.getLogger(__name__)
_CANCEL_AGAIN_S = 0.05


class Lifecycle:
    """Listeners on the GatewayBot that keep the bot-wide registry and the manager in step with Discord."""

    def __init__(self, manager: GuildDatabaseManager, settings: Settings, clock: Clock | None = None, *,
                 on_purge: Callable[[list[PurgeResult]], None] | None = None) -> None:
        self._manager = manager
        self._on_purge = on_purge or (lambda _: None)  # the metrics count purge outcomes
        self._settings = settings
        self._clock = clock or Clock()
        self._retention: asyncio.Task[None] | None = None
        # guilds the gateway says the bot is in (READY, GUILD_CREATE; an outage keeps them): never purged
        self._present: set[int] = set()

    def subscribe(self, bot: hikari.GatewayBot) -> None:
        bot.subscribe(hikari.StartingEvent, self.on_starting)
        bot.subscribe(hikari.StartedEvent, self.on_started)
        bot.subscribe(hikari.StoppingEvent, self.on_stopping)
        bot.subscribe(hikari.ShardReadyEvent, self.on_shard_ready)
        bot.subscribe(hikari.GuildJoinEvent, self.on_guild_seen)
        bot.subscribe(hikari.GuildAvailableEvent, self.on_guild_seen)
        bot.subscribe(hikari.GuildLeaveEvent, self.on_guild_leave)

    async def on_starting(self, _: hikari.StartingEvent) -> None:
        """Before any guild file is opened: finish deletions a crash interrupted (no stale WAL comes back)."""
        # one directory scan before the bot serves anything: no thread is worth starting for it
        finished = finish_interrupted_deletions(self._settings.guild_dbs_dir)
        if finished:
            log.warning("finished %d interrupted deletion(s): %s", len(finished), ", ".join(finished))

    async def on_started(self, _: hikari.StartedEvent) -> None:
        """Upkeep (retention purge, kept legacy copies) now and every hour of the bot's clock."""
        self._retention = asyncio.get_running_loop().create_task(
            self._clock.repeat(DEFAULT_INTERVAL_S, self._upkeep_round))

    async def _upkeep_round(self) -> None:
        self._on_purge(await upkeep_round(self._manager, legacy_keep_days=self._settings.legacy_keep_days,
                                          now=self._clock.now(), present=self._present.__contains__))

    async def on_stopping(self, _: hikari.StoppingEvent) -> None:
        """The purge stops before the manager closes its connections."""
        task, self._retention = self._retention, None
        if task is not None:
            # Python 3.11's wait_for drops a cancel that lands as its wait ends (a `clock` advance just woke
            # the sleeping round): cancel again until the task is really over, or the stop never finishes
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=_CANCEL_AGAIN_S)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def on_shard_ready(self, event: hikari.ShardReadyEvent) -> None:
        """READY lists every guild of this shard: files of this shard's other guilds start their retention.

        This catches guilds the bot left while it was offline, and those the legacy split gave a file to.
        """
        present = {int(g) for g in event.unavailable_guilds}
        count, shard_id = event.shard.shard_count, event.shard.id
        # before any await: a purge round starting meanwhile already skips them (a new READY replaces the shard's)
        self._present = {g for g in self._present if (g >> 22) % count != shard_id} | present
        absent = [g for g in sorted(set(self._manager.guild_ids_on_disk()) | _set_aside_ids(self._manager.root))
                  if (g >> 22) % count == shard_id and g not in present]
        async with self._manager.connect_bot() as bot_db:
            # added back while the bot was offline (or GUILD_CREATE held back by an outage): not left any more
            await record_present(bot_db, sorted(present), now=self._clock.now())
            started = await record_absent(bot_db, absent, retention_days=self._settings.retention_days,
                                          now=self._clock.now())
        if started:
            log.info("%d guild file(s) belong to guilds the bot is not in; purged after %d day(s)",
                     started, self._settings.retention_days)

    async def on_guild_seen(self, event: hikari.GuildJoinEvent | hikari.GuildAvailableEvent) -> None:
        """Added to a guild, or found in it at startup: any pending purge of its file is cancelled."""
        self._present.add(int(event.guild_id))
        async with self._manager.connect_bot() as bot_db:
            await record_join(bot_db, int(event.guild_id), name=event.guild.name, now=self._clock.now())

    async def on_guild_leave(self, event: hikari.GuildLeaveEvent) -> None:
        """Removed from a guild: record when (the purge counts from it) and close its file; the file stays."""
        guild_id = int(event.guild_id)
        self._present.discard(guild_id)
        async with self._manager.connect_bot() as bot_db:
            await record_leave(bot_db, guild_id, retention_days=self._settings.retention_days,
                               now=self._clock.now())
        await self._manager.evict(guild_id)
        if self._settings.retention_days == 0:  # "0 = at once": not at the next hourly round
            self._on_purge(await purge_expired(self._manager, now=self._clock.now(),
                                               present=self._present.__contains__))
        log.info("left guild %s; its file is kept for %s day(s)", guild_id, self._settings.retention_days)


def _set_aside_ids(root: Path) -> set[int]:
    """Guilds with a damaged copy set aside (`<id>.sqlite3.quarantined-…`): the purge removes those too."""
    ids = (guild_id_from_path(Path(name)) for name, _, _ in set_aside_in(root))
    return {g for g in ids if g is not None}
