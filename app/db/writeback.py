"""A verified copy written INTO a live database file with SQLite's backup API (`db migrate`, `restore`).

Never a rename of the copy over the file: a process that has the file open (a running bot, Litestream) would
go on reading and writing the unlinked inode, its writes lost. Written through SQLite, the inode stays, the
copy lands as one write transaction of the file, and SQLite's own locks order it against every other
connection, in any process:

- in WAL mode (`copy_pages` alone) the pages go to the `-wal` as one transaction: a connection open on the
  file reads them from its next transaction on (the backup bumps the schema cookie, so schemas are reread),
  and every page of the file is superseded, so nothing of the old content can come back; a crash before the
  commit leaves uncommitted frames that no one reads. WAL needs the copy's page size to be the file's;
- in rollback-journal mode (`rollback_journal`, which needs the file to itself) the old pages go to the
  `-journal` first, so a crash leaves a hot journal that the next opener rolls back; the page size may change.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class TargetBusy(Exception):
    """Another connection held the target's write lock for longer than the target's busy timeout."""


class JournalModeStuck(Exception):
    """The target could not leave WAL mode (another connection has the file open)."""


class FileShared(Exception):
    """Another connection (in any process) has the file open, so it cannot be held alone."""


def hold_alone(conn: sqlite3.Connection) -> None:
    """Take the file's exclusive lock for `conn`'s life, or give up within its busy timeout.

    In WAL mode every open connection holds a shared lock on the file, so this fails while any other has
    it open. Reading the file first also rolls back a crashed rewrite's hot journal.

    Raises:
        FileShared: another connection has the file open.
    """
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as error:
        if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF not in _BUSY:
            raise
        raise FileShared from None


def copy_pages(copy: sqlite3.Connection, target: sqlite3.Connection, *,
               under_lock: Callable[[], None] | None = None) -> None:
    """Every page of `copy` into `target`'s file, as one write transaction of `target`.

    The target's write lock is waited for no longer than its busy timeout (`timeout=` of its `connect`),
    then `TargetBusy` is raised and nothing is written. `under_lock`, if given, runs once that lock is held
    and before anything is committed (so no other connection can commit in between): whatever it raises
    abandons the copy, rolled back, and propagates.
    """
    checked = under_lock is None

    def step(status: int, remaining: int, total: int) -> None:
        nonlocal checked
        if status in _BUSY:
            raise TargetBusy
        if not checked:
            checked = True
            under_lock()  # type: ignore[misc]  # not None while unchecked
    # With a check, one page a step: the first step takes the lock and copies page 1, uncommitted (a guild
    # file always has more pages), and the backup keeps the lock from step to step until the last commits.
    copy.backup(target, pages=-1 if under_lock is None else 1, progress=step)


@contextmanager
def rollback_journal(target: sqlite3.Connection, path: Path) -> Iterator[None]:
    """`target` (holding the file's exclusive lock) in rollback-journal mode for the block, WAL again after.

    Raises:
        JournalModeStuck: the file could not leave WAL mode.
    """
    target.execute("PRAGMA synchronous = EXTRA")  # the journal's deletion (the commit) is synced too
    if target.execute("PRAGMA journal_mode = DELETE").fetchone()[0] != "delete":
        raise JournalModeStuck
    # The -wal is checkpointed and gone. A -shm a reader left is no one's: every connection that maps it
    # holds a shared lock on the file, and this one holds the exclusive lock (its WAL index is on the heap).
    path.with_name(path.name + "-shm").unlink(missing_ok=True)
    try:
        yield
    finally:
        target.execute("PRAGMA journal_mode = WAL")
