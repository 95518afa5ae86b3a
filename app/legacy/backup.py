"""The online backup of the legacy file, taken before anything else is written.

SQLite's backup API copies what a reader sees, WAL content included (a file copy
of `database.db` alone would drop the last writes still in `database.db-wal`).
The copy is written under a temporary name, synced and renamed, then integrity-checked.
"""
from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from app.errors import LegacySplitError
from app.legacy.collations import register_stand_ins
from app.rights.atomic import make_private

BACKUP_INFIX = ".backup-"
_NO_LIMIT = 2**31 - 1  # findings integrity_check reports before it stops


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def backup_path(legacy: Path, stamp: str) -> Path:
    return legacy.with_name(f"{legacy.name}{BACKUP_INFIX}{stamp}")


def fsync_path(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_integrity(path: Path, *, quick: bool = False) -> None:
    """SQLite's integrity check, but for the indexes ordered by a collation we only have a stand-in for.

    Raises:
        LegacySplitError: SQLite's integrity check reports a problem.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        stand_ins = register_stand_ins(conn)
        pragma = "quick_check" if quick else "integrity_check"
        if stand_ins.indexes:  # their findings are set aside: no limit, so that none hides another
            found = [r[0] for r in conn.execute(f"PRAGMA {pragma}({_NO_LIMIT})")]
            rows = [r for r in found if not stand_ins.excuses(r)] or ["ok"]
        else:
            rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as error:
        rows = [str(error)]
    finally:
        conn.close()
    if rows != ["ok"]:
        raise LegacySplitError(f"The backup {path.name} fails SQLite's integrity check ({'; '.join(rows[:3])}); "
                               "the legacy database may be damaged, and nothing was split.")


def _free_name(legacy: Path, stamp: str) -> tuple[Path, str]:
    """A backup name not taken yet (two splits within one second get -2, -3, …)."""
    candidate, n = stamp, 1
    while backup_path(legacy, candidate).exists():
        n += 1
        candidate = f"{stamp}-{n}"
    return backup_path(legacy, candidate), candidate


def make_backup(source: sqlite3.Connection, legacy: Path, stamp: str) -> tuple[Path, str]:
    """Copy `source` (the legacy database) to `<legacy>.backup-<stamp>` next to it; returns (path, stamp).

    The caller runs `check_integrity` on it (on a worker process, while the split reads it)
    and commits nothing before the check passed. An existing backup is never overwritten.

    Raises:
        LegacySplitError: the backup cannot be written.
    """
    target, stamp = _free_name(legacy, stamp)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)  # our own leftover of an interrupted backup
    try:
        dest = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dest.close()
        make_private(partial)  # every member of every guild: its owner only
        fsync_path(partial)
        os.link(partial, target)  # fails rather than replace a file that appeared meanwhile
        partial.unlink()
        fsync_path(target.parent, directory=True)
    except (OSError, sqlite3.DatabaseError) as error:
        partial.unlink(missing_ok=True)
        raise LegacySplitError(f"The backup of the legacy database could not be written next to it "
                               f"({error}); nothing was split.") from error
    return target, stamp
