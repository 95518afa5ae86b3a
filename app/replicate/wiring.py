"""In `run`: with LITESTREAM_REPLICA_URL set, the daemon starts with the bot and follows its guild files.

Erasures reach the replica too: every member-scope receipt written since the last look (by `/my-data
delete` here, or `user forget` from the CLI, even while this process was down) gives its guild file a fresh
snapshot (`Litestream.fresh_snapshot`), within RECONCILE_INTERVAL_S; every guild-scope receipt of a file
that is gone deletes its replica (a deletion made while the daemon was down, which it never saw).
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
from pathlib import Path

import hikari

from app.db import GuildDatabaseManager
from app.db.shards import ShardBlock, describe, owned
from app.errors import BotError
from app.replicate.litestream import Litestream, binary, delete_replica

log = logging.getLogger(__name__)

RECONCILE_INTERVAL_S = 10.0  # a new guild file is registered within this (its first sync copies it whole)
SEEN_FILE = "erasures-seen"  # the last member receipt whose erasure reached the replica
WORKDIR = ".litestream"


def workdir_for(root: Path, shards: ShardBlock | None) -> Path:
    """The daemon's folder (config, control socket, log): one per shard block, so processes of one folder
    never share a socket; `GUILD_DBS_DIR/.litestream/all` for a process serving every shard."""
    if shards is None:
        return root / WORKDIR / "all"
    ids = describe(shards.shard_ids)
    name = f"{ids}-of-{shards.shard_count}" if len(ids) <= 40 else \
        f"{hashlib.sha256(ids.encode()).hexdigest()[:16]}-of-{shards.shard_count}"
    return root / WORKDIR / f"shards-{name.replace(',', '_')}"


class Replication:
    """Starts Litestream at StartedEvent, registers new files and unregisters deleted ones, stops it last."""

    def __init__(self, manager: GuildDatabaseManager, replica_url: str) -> None:
        binary()  # a missing binary stops `run` before it connects, not at the first registration
        self._manager = manager
        self.litestream = Litestream(workdir_for(manager.root, manager.shards), replica_url)
        self._task: asyncio.Task[None] | None = None
        self._seen_file = self.litestream.workdir / SEEN_FILE
        # Litestream owns the checkpoints of the files it tracks (its read transaction refuses the bot's anyway)
        manager.checkpointed_elsewhere = self.litestream.registered.__contains__

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

    async def erased_guilds(self) -> tuple[list[int], set[int], int]:
        """Own guilds with a member erasure or a deletion since the last receipt handled, those of them deleted,
        and the newest receipt id.

        The first time (no record yet) nothing is owed: the replica starts after those erasures.
        """
        if not self._manager.bot_path.exists():
            return [], set(), 0
        async with self._manager.connect_bot() as bot_db:
            newest = await bot_db.execute_fetchone("SELECT COALESCE(MAX(id), 0) FROM deletion_receipts")
            last = int(newest[0]) if newest else 0
            if not self._seen_file.exists():
                return [], set(), last
            seen = int(self._seen_file.read_text(encoding="utf-8").strip() or 0)
            rows = await bot_db.execute_fetchall(
                "SELECT guild_id, MAX(scope = 'guild') FROM deletion_receipts WHERE scope IN ('member', 'guild') "
                "AND guild_id IS NOT NULL AND id > ? AND id <= ? GROUP BY guild_id ORDER BY guild_id",
                (seen, last))
        guild_ids = owned(self._manager.shards, [int(r[0]) for r in rows])
        return guild_ids, {int(r[0]) for r in rows if r[1]} & set(guild_ids), last

    async def snapshot_erasures(self) -> list[Path]:
        """Since the last look, for each own guild with a member erased or its file deleted: a fresh snapshot of
        its file; or, for a guild deleted (on request) whose file is gone, its replica deleted: a deletion made
        while this daemon was down, which it never saw go. A file merely missing keeps its replica (it may be
        what restores it). Returns the files snapshotted or whose replica was deleted."""
        try:
            guild_ids, deleted, last = await self.erased_guilds()
            done = []
            for guild_id in guild_ids:
                path = self._manager.path_for(guild_id)
                if path in self.litestream.registered:
                    await asyncio.to_thread(self.litestream.fresh_snapshot, path)
                elif guild_id in deleted and not path.exists():
                    await asyncio.to_thread(delete_replica, self.litestream.replica_url, path)
                else:
                    continue
                done.append(path)
        except (BotError, OSError, ValueError) as error:
            log.warning("litestream snapshot after an erasure failed (retried): %s", error)
            return []
        self._seen_file.write_text(f"{last}\n", encoding="utf-8")
        if done:
            log.info("litestream: %d replica(s) renewed or deleted after an erasure or a deletion", len(done))
        return done

    def _carry_over_seen(self) -> None:
        """Before the daemon's folder was per block, `.litestream/erasures-seen` was shared: start from it."""
        old = self._manager.root / WORKDIR / SEEN_FILE
        if old.is_file() and not self._seen_file.exists():
            self._seen_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(old, self._seen_file)

    async def on_started(self, _: hikari.StartedEvent) -> None:
        await asyncio.to_thread(self._carry_over_seen)
        await asyncio.to_thread(self.litestream.start)
        self._task = asyncio.get_running_loop().create_task(self._every())

    async def _every(self) -> None:
        while True:
            await self.reconcile()
            await self.snapshot_erasures()
            await asyncio.sleep(RECONCILE_INTERVAL_S)

    async def on_stopped(self, _: hikari.StoppedEvent) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self.litestream.stop)
