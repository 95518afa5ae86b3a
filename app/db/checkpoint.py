"""Checkpoints at shutdown: after a clean stop every file is complete without its -wal.

Closes skip SQLite's checkpoint-on-close (see native.py), so a guild evicted hours ago
may keep committed rows only in its -wal. A copy of the main file alone (a backup tool,
an operator's `cp`) would miss them; `close_all()` therefore folds back the WAL of every
file this process wrote to. Files it never wrote are left alone: a CLI command next to a
running bot must not sweep (and briefly lock) the bot's thousands of files on exit.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path

from app.db.worker import WorkerPool

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1000  # files between two progress lines in the log
_BUSY_TIMEOUT_S = 1.0  # at shutdown, another process (a CLI export) may hold a file briefly


def with_wal(paths: list[Path]) -> list[Path]:
    """The files among `paths` that exist and whose -wal holds frames."""
    found = []
    for path in paths:
        try:
            if os.stat(f"{path}-wal").st_size > 0 and path.is_file():
                found.append(path)
        except FileNotFoundError:
            continue
    return found


def checkpoint_truncate(conn: sqlite3.Connection) -> bool:
    """Fold the -wal into the file and empty it; False when a reader of an older snapshot (another connection)
    kept it from finishing."""
    return not conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]


def checkpoint_file(path: Path) -> bool:
    """Fold the file's WAL into it and truncate the WAL; False if another connection kept it busy."""
    # mode=rw: a file deleted since it was listed is not created again (empty, then quarantined)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=_BUSY_TIMEOUT_S,
                           isolation_level=None)
    try:
        return checkpoint_truncate(conn)
    finally:
        conn.close()


async def checkpoint_files(candidates: list[Path], pool: WorkerPool) -> int:
    """Checkpoint those of `candidates` with a non-empty WAL, on the pool's threads; returns how many."""
    paths = await pool.any().submit(with_wal, candidates)
    done = 0
    for start in range(0, len(paths), PROGRESS_EVERY):
        batch = paths[start:start + PROGRESS_EVERY]
        results = await asyncio.gather(*(pool.any().submit(checkpoint_file, p) for p in batch),
                                       return_exceptions=True)
        for path, result in zip(batch, results, strict=True):
            if result is True:
                done += 1
            else:
                log.warning("checkpoint of %s at shutdown skipped: %s", path.name, result or "busy")
        log.info("shutdown checkpoint: %d of %d files with a WAL done", start + len(batch), len(paths))
    return done


def drop_side_files(path: Path) -> bool:
    """Delete the -wal and -shm a read-only close left, if the -wal is empty and no one else has the file.

    A connection that reads and closes with SQLite's default settings does it (it is then the last
    connection: nothing else holds the file). A non-empty -wal is left alone: it may be another
    process's committed rows (see `checkpoint_file` for the files this process wrote).
    """
    try:
        if os.stat(f"{path}-wal").st_size:
            return False
    except FileNotFoundError:
        return False
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=0, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # opens the WAL, to close it
    finally:
        conn.close()
    return not os.path.exists(f"{path}-wal")


async def drop_idle_side_files(candidates: list[Path], pool: WorkerPool) -> int:
    """`drop_side_files` for each of `candidates` on the pool's threads; returns how many were cleaned."""
    done = 0
    for start in range(0, len(candidates), PROGRESS_EVERY):
        batch = candidates[start:start + PROGRESS_EVERY]
        results = await asyncio.gather(*(pool.any().submit(drop_side_files, p) for p in batch),
                                       return_exceptions=True)
        done += sum(r is True for r in results)
    return done
