"""GuildDatabaseManager: lazily opened per-guild files, a bounded cache of connections, leases."""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from app.db import files
from app.db.checkpoint import checkpoint_files, drop_idle_side_files
from app.db.connection import BUSY_FIRST_WAIT, BUSY_MAX_WAIT, BotDb, GuildDb
from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path, validate_guild_id
from app.db.limits import LIVE_SLACK, ensure_fd_budget
from app.db.native import close_connection
from app.db.schema import BOT_SCHEMA, GUILD_SCHEMA, Schema
from app.db.shards import ShardBlock
from app.db.slots import DEFAULT_POLICY, POLICIES, Lease, ManagerStats, Slot, timed
from app.db.worker import WorkerPool
from app.errors import DatabaseBusyError, ManagerClosedError, ResourceLimitError

log = logging.getLogger(__name__)

T = TypeVar("T")

class GuildDatabaseManager:
    """Hands out per-guild connections; at most `max_open` stay open, the least recently used going first
    (`policy="tinylfu"`: W-TinyLFU decides which; "lfu" for comparison)."""

    def __init__(self, root: Path, *, max_open: int = 128, query_threads: int = 1,
                 lifecycle_threads: int = 2, policy: str = DEFAULT_POLICY, options: files.OpenOptions | None = None,
                 guild_schema: Schema = GUILD_SCHEMA, bot_schema: Schema = BOT_SCHEMA,
                 lease_wait_s: float = 30.0, shards: ShardBlock | None = None) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        ensure_fd_budget(max_open)
        self.root = Path(root)
        self.max_open = max_open
        self.shards = shards  # None: every guild; else guilds outside the block are refused
        # files another process checkpoints (Litestream, while it replicates them): the shutdown leaves them alone
        self.checkpointed_elsewhere: Callable[[Path], bool] = lambda _: False
        self._options = options or files.OpenOptions()
        self._guild_schema = guild_schema
        self._bot_schema = bot_schema
        self._query_threads = query_threads
        self._lifecycle_threads = lifecycle_threads
        self._queries: WorkerPool | None = None
        self._lifecycle: WorkerPool | None = None
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
        self._cache = POLICIES[policy](max_open, self)
        self._live: dict[int, set[Slot]] = {}  # every slot not yet closed, cached or not
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._gates: dict[int, asyncio.Event] = {}  # guilds held exclusively (deletion)
        self._closing: set[asyncio.Task[None]] = set()
        # Evicted connections still in use or still closing also hold files: bound them too,
        # so opens can never outrun closes and exhaust descriptors.
        self._live_limit = max_open + LIVE_SLACK
        self._lease_wait_s = lease_wait_s  # then a lease fails (a task holding leases may wait on itself)
        self._live_total = self._peak_open = 0
        self._room = asyncio.Event()
        self._bot: BotDb | None = None
        self._bot_opening: asyncio.Lock | None = None
        self._bot_users = 0
        self._wrote: set[int] = set()  # guilds whose connections wrote and closed without a checkpoint
        self._read: set[int] = set()  # guilds whose connections only read and closed keeping -wal and -shm
        self._bot_idle = asyncio.Event()
        self._bot_idle.set()
        self._closed = False
        self._shutdown: asyncio.Future[None] | None = None
        self._hits = self._misses = self._opens = self._creates = self._evictions = self._closes = 0
        self._virtual_opens = 0  # guilds with no file, opened as read-only copies (their file built at the first write)
        self._open_seconds = self._close_seconds = 0.0

    # -- public surface ----------------------------------------------------
    def connect(self, guild_id: int) -> Lease:
        """Lease the guild's connection: `async with manager.connect(guild_id) as db:`.

        Raises:
            InvalidGuildIdError: `guild_id` is not a guild id (nothing is created).
            DatabaseQuarantinedError: the guild's file was unusable and was moved aside.
            WrongShardError: the guild is not on this process's shards.
        """
        if self.shards is not None:
            self.shards.check(guild_id)
        return Lease(self, guild_id)

    @asynccontextmanager
    async def connect_bot(self) -> AsyncIterator[BotDb]:
        """The bot-wide file's connection (opened once, kept open until close_all, which waits for its users)."""
        bot_db = await self._bot_db()
        self._bot_users += 1
        self._bot_idle.clear()
        try:
            yield bot_db
        finally:
            self._bot_users -= 1
            if not self._bot_users:
                self._bot_idle.set()

    def path_for(self, guild_id: int) -> Path:
        return self.root / guild_file_name(guild_id)

    @property
    def bot_path(self) -> Path:
        return self.root / BOT_FILE_NAME

    def guild_ids_on_disk(self) -> list[int]:
        """Guilds that have a file; the bot-wide file and anything else in the folder (a folder named like a
        guild file included) are ignored."""
        if not self.root.is_dir():
            return []
        with os.scandir(self.root) as entries:
            ids = [guild_id_from_path(Path(e.path)) for e in entries if e.is_file()]
        return sorted(i for i in ids if i is not None)

    def is_open(self, guild_id: int) -> bool:
        return bool(self._live.get(validate_guild_id(guild_id)))

    def stats(self) -> ManagerStats:
        return ManagerStats(self._hits, self._misses, self._opens, self._creates, self._evictions,
                            self._closes, self._live_total, self._peak_open, self.max_open,
                            self._open_seconds, self._close_seconds, self._virtual_opens)

    async def evict(self, guild_id: int) -> None:
        """Close the guild's connection as soon as it is idle (its file stays)."""
        slot = self._cache.pop(validate_guild_id(guild_id), None)
        if slot is not None:
            self._retire(slot)

    @asynccontextmanager
    async def exclusive(self, guild_id: int) -> AsyncIterator[Path]:
        """Hold the guild with no connection open: in-flight work finishes, new work waits.

        For deletion and restore; yields the guild's file path.
        """
        guild_id = validate_guild_id(guild_id)
        while (gate := self._gates.get(guild_id)) is not None:
            await gate.wait()
        gate = self._gates[guild_id] = asyncio.Event()
        try:
            await self.evict(guild_id)
            await self._wait_closed(guild_id)
            yield self.path_for(guild_id)
        finally:
            del self._gates[guild_id]
            gate.set()

    async def close_all(self) -> None:
        """Refuse new leases, wait for the ones in use, close every connection, stop the threads.

        Every file whose WAL still holds changes (guilds evicted earlier included) is then
        checkpointed, so that after a clean shutdown each file is complete on its own.
        Concurrent and later calls wait for the same shutdown.
        """
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._shut_down())
        await asyncio.shield(self._shutdown)

    async def _shut_down(self) -> None:
        self._closed = True
        for guild_id in list(self._cache):
            await self.evict(guild_id)
        for guild_id in list(self._live):
            await self._wait_closed(guild_id)
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        if self._bot_opening is not None:
            async with self._bot_opening:  # a first open under way ends, its user counted, first
                pass
        await self._bot_idle.wait()
        if self._bot is not None:
            bot_db, self._bot = self._bot, None
            await bot_db.run(functools.partial(close_connection, path=bot_db.path, checkpoint=True))
        if self._lifecycle is not None and self._wrote:
            wrote = [p for p in (self.path_for(g) for g in sorted(self._wrote)) if not self.checkpointed_elsewhere(p)]
            await checkpoint_files(wrote, self._lifecycle)
        if self._lifecycle is not None and (read_only := self._read - self._wrote):
            await drop_idle_side_files([self.path_for(g) for g in sorted(read_only)], self._lifecycle)
        for pool in (self._queries, self._lifecycle):
            if pool is not None:
                await pool.stop()
        self._queries = self._lifecycle = None

    async def __aenter__(self) -> GuildDatabaseManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_all()

    # -- leases --------------------------------------------------------------
    async def _acquire(self, guild_id: int) -> tuple[Slot, GuildDb]:
        while True:
            if self._closed:
                raise ManagerClosedError("the database manager is closed")
            gate = self._gates.get(guild_id)
            if gate is not None:
                await gate.wait()
                continue
            slot = self._cache.get(guild_id)
            if slot is None and (live := self._live.get(guild_id)):
                # One connection per file: an evicted one still in use comes back rather than
                # a second connection whose lock waits could meet the first's.
                if not await self._revive(guild_id, live):
                    continue
                slot = self._cache[guild_id]
            if slot is None:
                if self._live_total >= self._live_limit:
                    await self._wait_for_room()
                    continue
                self._misses += 1
                slot = self._open_slot(guild_id)
            elif slot.db is not None:
                self._hits += 1
                slot.leases += 1
                return slot, slot.db
            else:
                self._hits += 1
            slot.leases += 1
            try:
                db = await asyncio.shield(slot.ready)
            except BaseException:
                self._release(slot)
                raise
            return slot, db

    async def _revive(self, guild_id: int, live: set[Slot]) -> bool:
        """Put the guild's evicted slot back in the cache; False after waiting for a closing one."""
        for slot in live:
            if not slot.closing:
                slot.evicted = False
                self._cache[guild_id] = slot  # may retire the least recently used slot
                return True
        await asyncio.gather(*(asyncio.shield(s.closed) for s in list(live)))
        return False

    async def _wait_for_room(self) -> None:
        """Wait for a connection to close, for a bounded time.

        Raises:
            ResourceLimitError: nothing closed in time (for example a task holding many leases).
        """
        self._room.clear()
        try:
            await asyncio.wait_for(self._room.wait(), self._lease_wait_s)
        except TimeoutError:
            raise ResourceLimitError(
                f"More than {self._live_limit} server databases are in use at once; try again in a moment."
            ) from None

    def _release(self, slot: Slot) -> None:
        slot.leases -= 1
        if slot.evicted and slot.leases == 0:
            self._close_later(slot)

    async def _open_file(self, open_fn: Callable[..., T], *args: Any) -> tuple[T, float]:
        """`open_fn(*args)` on a lifecycle thread; a file another program keeps locked is retried from the loop.

        Raises:
            DatabaseBusyError: still locked after the busy timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_timeout
        wait = BUSY_FIRST_WAIT
        while True:
            try:
                return await self._lifecycle_pool().any().submit(
                    functools.partial(timed, open_fn, lock_wait_s=0), *args)
            except DatabaseBusyError:
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, BUSY_MAX_WAIT)

    def _open_slot(self, guild_id: int) -> Slot:
        path = self.path_for(guild_id)
        self._query_pool().hold(+1)  # released in _opened
        opened = asyncio.ensure_future(
            self._open_file(files.open_guild, path, self._guild_schema, guild_id, self._options))
        slot = Slot(guild_id, asyncio.get_running_loop().create_future())
        self._live.setdefault(guild_id, set()).add(slot)
        self._live_total += 1
        self._peak_open = max(self._peak_open, self._live_total)
        lock = self._locks.get(guild_id)
        if lock is None:
            lock = self._locks[guild_id] = asyncio.Lock()
        opened.add_done_callback(lambda fut: self._opened(slot, path, lock, fut))
        self._cache[guild_id] = slot  # may retire the least recently used slot
        return slot

    def _opened(self, slot: Slot, path: Path, lock: asyncio.Lock,
                fut: asyncio.Future[tuple[tuple[sqlite3.Connection, files.Opened], float]]) -> None:
        if self._queries is not None:
            self._queries.hold(-1)
        error = fut.exception()
        if error is not None:
            if self._cache.get(slot.guild_id) is slot:
                del self._cache[slot.guild_id]
            self._forget(slot)
            slot.ready.set_exception(error)
            slot.ready.exception()  # retrieved: waiters that were cancelled must not warn
            return
        (conn, opened), seconds = fut.result()
        is_copy = opened == "copy"
        if is_copy:
            self._virtual_opens += 1
        else:
            self._open_seconds += seconds
            self._opens += 1
            self._creates += int(opened == "built")
        slot.db = GuildDb(conn, guild_id=slot.guild_id, path=path, busy_timeout=self._busy_timeout,
                          worker=self._query_pool().for_key(slot.guild_id), lock=lock,
                          inline_steps=self._options.inline_vm_steps,
                          make_file=functools.partial(self._make_file, slot.guild_id) if is_copy else None)
        slot.ready.set_result(slot.db)
        if slot.evicted and slot.leases == 0:
            self._close_later(slot)

    async def _make_file(self, guild_id: int) -> sqlite3.Connection:
        """A guild's first write: build its file (atomically, as any new one) and open it.

        Raises:
            ManagerClosedError: the manager has shut down.
        """
        if self._closed and self._lifecycle is None:
            raise ManagerClosedError("the database manager is closed")
        (conn, created), seconds = await self._open_file(
            files.open_file, self.path_for(guild_id), self._guild_schema, guild_id, self._options, True)
        self._open_seconds += seconds
        self._opens += 1
        self._creates += int(created)
        return conn

    def _retire(self, slot: Slot) -> None:
        """Called when a slot leaves the cache: close it now if idle, else at its last release."""
        if slot.evicted:
            return
        slot.evicted = True
        self._evictions += 1
        if slot.leases == 0:
            self._close_later(slot)

    def _close_later(self, slot: Slot) -> None:
        if slot.db is None and not slot.ready.done():
            return  # still opening: _opened closes it
        slot.closing = True
        task = asyncio.get_running_loop().create_task(self._close(slot))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, slot: Slot) -> None:
        db, slot.db = slot.db, None
        try:
            if db is not None:
                await db.settled()  # a file build under way ends first: its connection is the one to close
                if db.is_copy:
                    await db.close_copy()
                else:
                    await self._close_file(slot.guild_id, db)
        except Exception:
            log.exception("closing the database of guild %s failed", slot.guild_id)
        finally:
            self._forget(slot)

    async def _close_file(self, guild_id: int, db: GuildDb) -> None:
        # On the connection's own worker: queued after any call a cancelled task left
        # behind, and cheap (no checkpoint, see native.py) unless the WAL grew or the
        # manager is shutting down, when every file is checkpointed.
        wrote, seconds = await db.run(functools.partial(
            timed, close_connection, path=db.path, checkpoint=self._closed,
            remove_side_files=self._closed or self._options.remove_side_files))
        if wrote and not self._closed:
            self._wrote.add(guild_id)  # checkpointed at shutdown
        elif not self._closed and not self._options.remove_side_files:
            self._read.add(guild_id)  # side files dropped at shutdown if its -wal is empty
        self._close_seconds += seconds
        self._closes += 1

    def _forget(self, slot: Slot) -> None:
        live = self._live.get(slot.guild_id)
        if live is not None and slot in live:
            live.discard(slot)
            self._live_total -= 1
            self._room.set()
            if not live:
                del self._live[slot.guild_id]
        if not slot.closed.done():
            slot.closed.set_result(None)

    async def _wait_closed(self, guild_id: int) -> None:
        while slots := self._live.get(guild_id):
            await asyncio.gather(*(asyncio.shield(s.closed) for s in list(slots)))

    # -- bot-wide file and threads -------------------------------------------
    @property
    def _busy_timeout(self) -> float:
        return self._options.busy_timeout_ms / 1000

    async def _bot_db(self) -> BotDb:
        if self._closed:
            raise ManagerClosedError("the database manager is closed")
        if self._bot is not None:
            return self._bot
        if self._bot_opening is None:
            self._bot_opening = asyncio.Lock()
        async with self._bot_opening:
            if self._bot is None:
                files.make_folder(self.root)
                (conn, _), _ = await self._open_file(files.open_file, self.bot_path, self._bot_schema, None,
                                                     self._options, True)
                self._bot = BotDb(conn, path=self.bot_path, worker=self._query_pool().for_key(0),
                                  lock=asyncio.Lock(), busy_timeout=self._busy_timeout,
                                  inline_steps=self._options.inline_vm_steps)
        return self._bot

    def _query_pool(self) -> WorkerPool:
        if self._queries is None:
            self._queries = WorkerPool("guildshelf-sql", self._query_threads)
        return self._queries

    def _lifecycle_pool(self) -> WorkerPool:
        if self._lifecycle is None:
            files.make_folder(self.root)
            self._lifecycle = WorkerPool("guildshelf-open", self._lifecycle_threads)
        return self._lifecycle
