"""The shared-aggregates file: its schema, its connection (app/db's `Database`), and the dirty marks.

The file is opened through app/db (built atomically from its template, WAL, lock waits retried
from the event loop), so several processes on one machine can write it safely. A running bot
keeps one `SharedStore`; the rights paths (erasure, deletion, purge) open a short connection of
their own with `connect_store`, so that they act at once, even from the operator's command line.
"""
from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

from app.db.connection import Database, GuildDb
from app.db.files import OpenOptions, make_folder, open_file
from app.db.schema import TEMPLATES_DIR, Schema
from app.db.worker import Worker

STORE_FILE_NAME = "shared-aggregates.sqlite3"  # never parses as a guild id
SHARED_SCHEMA = Schema("shared-aggregates", TEMPLATES_DIR / "shared_schema.sql",
                       TEMPLATES_DIR / "shared_migrations", "shared_meta")

# The running stores by data folder: a hook in a feature marks its guild dirty in its own folder's store.
_ACTIVE: weakref.WeakValueDictionary[Path, SharedStore] = weakref.WeakValueDictionary()


def store_path(root: Path) -> Path:
    return Path(root) / STORE_FILE_NAME


async def _open(path: Path, name: str) -> tuple[Database, Worker]:
    make_folder(path.parent)
    worker = Worker(name)
    try:
        conn, _ = await worker.submit(open_file, path, SHARED_SCHEMA, None,
                                      OpenOptions(skip_checkpoint_on_close=False), True)
    except BaseException:
        await worker.stop()
        raise
    return Database(conn, path=path, worker=worker, lock=asyncio.Lock()), worker


async def _close(db: Database, worker: Worker) -> None:
    await worker.submit(db.raw.close)
    await worker.stop()


@contextlib.asynccontextmanager
async def connect_store(root: Path) -> AsyncIterator[Database | None]:
    """A short connection to the store of `root`, or None when nothing was ever shared there."""
    path = store_path(root)
    if not path.exists():
        yield None
        return
    db, worker = await _open(path, "guildshelf-shared-short")
    try:
        yield db
    finally:
        await _close(db, worker)


class SharedStore:
    """The bot's connection to the store, opened on first use, plus what is waiting to be published.

    `sharing` mirrors the servers that share (reloaded at every publishing round, so a change
    made by another process is seen); marks for any other server are dropped at once.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = store_path(root)
        self.sharing: set[int] = set()
        self.pending: dict[int, set[int]] = {}  # guild → members whose figures changed
        self.on_open: list[Callable[[], None]] = []
        self._db: Database | None = None
        self._worker: Worker | None = None
        self._opening = asyncio.Lock()

    async def db(self) -> Database:
        if self._db is not None:
            return self._db
        async with self._opening:
            if self._db is None:
                self._db, self._worker = await _open(self.path, "guildshelf-shared")
                await self.reload_sharing()
                _ACTIVE[self.root] = self
                for started in self.on_open:
                    started()
        return self._db

    async def open_existing(self) -> None:
        """At start: open the store if anything was ever shared (the file is created by the first consent)."""
        if self.path.exists():
            await self.db()

    async def reload_sharing(self) -> None:
        db = await self.db() if self._db is None else self._db
        rows = await db.execute_fetchall("SELECT guild_id FROM servers")
        self.sharing = {int(r[0]) for r in rows}

    def mark(self, guild_id: int, user_ids: Iterable[int]) -> None:
        """Remember that these members' figures (and so the server's) changed; memory only."""
        if guild_id in self.sharing:
            self.pending.setdefault(guild_id, set()).update(user_ids)

    def take(self) -> dict[int, set[int]]:
        taken, self.pending = self.pending, {}
        return taken

    async def close(self) -> None:
        db, worker, self._db, self._worker = self._db, self._worker, None, None
        if _ACTIVE.get(self.root) is self:
            del _ACTIVE[self.root]
        if db is not None and worker is not None:
            await _close(db, worker)


def running_store(root: Path) -> SharedStore | None:
    """The store a bot of this process keeps open over `root`, if any."""
    return _ACTIVE.get(Path(root))


def mark_dirty(db: GuildDb, *user_ids: int) -> None:
    """The one-call hook for features: these members' figures in `db`'s server changed (no I/O, no await)."""
    store = _ACTIVE.get(db.path.parent)
    if store is not None:
        store.mark(db.guild_id, user_ids)
