"""Checkpoints at shutdown: after a clean stop every file is complete without its -wal.

Closes skip SQLite's checkpoint-on-close (see native.py), so a guild evicted hours ago
may keep committed rows only in its -wal. A copy of the main file alone (a backup tool,
an operator's `cp`) would miss them; `close_all()` therefore folds every non-empty WAL
in the folder back into its file.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path

from app.db.ids import BOT_FILE_NAME, guild_id_from_path
from app.db.worker import WorkerPool

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1000  # files between two progress lines in the log
_BUSY_TIMEOUT_S = 1.0  # at shutdown, another process (a CLI export) may hold a file briefly


def files_with_wal(root: Path) -> list[Path]:
    """Our database files (guild files and the bot-wide file) whose -wal holds frames."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    with os.scandir(root) as entries:
        for entry in entries:
            if not entry.name.endswith(".sqlite3-wal"):
                continue
            main = root / entry.name.removesuffix("-wal")
            if main.name != BOT_FILE_NAME and guild_id_from_path(main) is None:
                continue
            try:
                if entry.stat().st_size > 0 and main.is_file():
                    found.append(main)
            except FileNotFoundError:
                continue
    return sorted(found)


def checkpoint_file(path: Path) -> bool:
    """Fold the file's WAL into it and truncate the WAL; False if another connection kept it busy."""
    # mode=rw: a file deleted since it was listed is not created again (empty, then quarantined)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=_BUSY_TIMEOUT_S,
                           isolation_level=None)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        conn.close()
    return not busy


async def checkpoint_folder(root: Path, pool: WorkerPool) -> int:
    """Checkpoint every file in `root` with a non-empty WAL, on the pool's threads; returns how many."""
    paths = await pool.any().submit(files_with_wal, root)
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
