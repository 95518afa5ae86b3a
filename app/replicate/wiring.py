"""In `run`: with LITESTREAM_REPLICA_URL set, the daemon starts with the bot and follows its guild files."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import hikari

from app.db import GuildDatabaseManager
from app.db.shards import owned
from app.errors import BotError
from app.replicate.litestream import Litestream, binary

log = logging.getLogger(__name__)

RECONCILE_INTERVAL_S = 10.0  # a new guild file is registered within this (its first sync copies it whole)


class Replication:
    """Starts Litestream at StartedEvent, registers new files and unregisters deleted ones, stops it last."""

    def __init__(self, manager: GuildDatabaseManager, replica_url: str) -> None:
        binary()  # a missing binary stops `run` before it connects, not at the first registration
        self._manager = manager
        self.litestream = Litestream(manager.root / ".litestream", replica_url)
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, bot: hikari.GatewayBot) -> None:
        bot.subscribe(hikari.StartedEvent, self.on_started)
        bot.subscribe(hikari.StoppedEvent, self.on_stopped)

    def own_files(self) -> list[Path]:
        ids = owned(self._manager.shards, self._manager.guild_ids_on_disk())
        paths = [self._manager.path_for(g) for g in ids]
        shards = self._manager.shards
        if self._manager.bot_path.exists() and (shards is None or 0 in shards.shard_ids):
            paths.append(self._manager.bot_path)  # one process replicates the shared bot-wide file
        return paths

    async def reconcile(self) -> None:
        try:
            added, gone = await asyncio.to_thread(self.litestream.reconcile, self.own_files())
        except (BotError, OSError) as error:
            log.warning("litestream reconcile failed: %s", error)
            return
        if added or gone:
            log.info("litestream: %d file(s) registered, %d unregistered", len(added), len(gone))

    async def on_started(self, _: hikari.StartedEvent) -> None:
        await asyncio.to_thread(self.litestream.start)
        self._task = asyncio.get_running_loop().create_task(self._every())

    async def _every(self) -> None:
        while True:
            await self.reconcile()
            await asyncio.sleep(RECONCILE_INTERVAL_S)

    async def on_stopped(self, _: hikari.StoppedEvent) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self.litestream.stop)
