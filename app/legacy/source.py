"""Reading the legacy file without ever writing to it, its `-wal` or its `-shm`.

A plain `mode=ro` connection still writes to `-shm` (it rebuilds the WAL index and
moves read marks; measured: the `-shm` bytes and mtime change). `readonly_shm=1`
maps the `-shm` read-only: SQLite then reads the WAL into private memory, and
the three files stay byte-identical (tests/legacy/test_source.py). That needs an
existing `-shm`; without one (or with a hot rollback journal, which only a
writer may roll back) the files are first copied into a private directory,
checked unchanged across the copy, and read from there. A WAL database closed
cleanly (no `-wal`) is read with `immutable=1`, which creates no side file.
"""
from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import LegacySplitError
from app.legacy.collations import register_stand_ins
from app.scratch import private_scratch

_HEADER = b"SQLite format 3\x00"
_COPY_ATTEMPTS = 3
READ_DEADLINE_S = 1800.0  # far over a real split's reads (1.1 M rows: ~10 s); a crafted file stops here
_PROGRESS_STEPS = 100_000


def bound_in_time(conn: sqlite3.Connection, seconds: float) -> None:
    """Interrupt any statement on `conn` once `seconds` have passed since this call (a crafted file can loop)."""
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)


def fingerprint(path: Path) -> list[list[int]]:
    """Size and mtime of the legacy file and its side files (absent ones as [-1, -1])."""
    out = []
    for suffix in ("", "-wal", "-journal"):
        try:
            st = Path(f"{path}{suffix}").stat()
            out.append([st.st_size, st.st_mtime_ns])
        except FileNotFoundError:
            out.append([-1, -1])
    return out


def check_is_database(path: Path, what: str = "legacy database") -> None:
    """Raises: LegacySplitError: the path is missing or not an SQLite database."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_HEADER))
    except OSError as error:
        raise LegacySplitError(f"The {what} {path} cannot be read: {error.strerror}.") from error
    if not header:
        raise LegacySplitError(f"The {what} {path} is empty (0 bytes): there is nothing in it to read.")
    if header != _HEADER:
        raise LegacySplitError(f"The {what} {path} is not an SQLite database.")


def _how_to_read(path: Path) -> str:
    """'copy', 'immutable' or 'shared' (see the module docstring)."""
    wal, shm, journal = (Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))
    if (journal.exists() and journal.stat().st_size > 0) or (wal.exists() and not shm.exists()):
        return "copy"
    with open(path, "rb") as handle:
        wal_mode = handle.read(20)[18:20] == b"\x02\x02"
    # a WAL database closed cleanly has no -wal: the file is all there is, and no writer is
    # attached (one would hold the -wal open); read-only WAL access would otherwise need a -shm
    return "immutable" if wal_mode and not wal.exists() else "shared"


def _private_copy(path: Path, into: Path) -> Path:
    """Copy the file and its -wal/-journal, retrying while something else writes to them."""
    target = into / path.name
    for _ in range(_COPY_ATTEMPTS):
        before = fingerprint(path)
        for suffix in ("", "-wal", "-journal"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                shutil.copyfile(source, Path(f"{target}{suffix}"))
        if fingerprint(path) == before:
            return target
    raise LegacySplitError(f"{path} kept changing while it was read; stop the program that writes "
                           "to it (the old bot) and try again.")


def read_error(path: Path, error: sqlite3.Error, what: str = "legacy database") -> LegacySplitError:
    """The sentence for a read that failed, or that the time bound interrupted."""
    if "interrupted" in str(error):
        return LegacySplitError(f"Reading {path} took longer than {READ_DEADLINE_S:.0f} s (a crafted or damaged "
                                "file?), so it was stopped; nothing was written.")
    return LegacySplitError(f"The {what} {path} cannot be read: {error}.")


@contextmanager
def open_read_only(path: Path, what: str = "legacy database") -> Iterator[sqlite3.Connection]:
    """A connection that sees everything in `path` (WAL included) and never modifies its files.

    Raises:
        LegacySplitError: the file is missing, not a database, or cannot be opened.
    """
    check_is_database(path, what)
    with private_scratch("legacy-read-") as scratch:
        how = _how_to_read(path)
        if how == "copy":
            conn = sqlite3.connect(_private_copy(path, scratch), isolation_level=None)
        else:
            flags = "immutable=1" if how == "immutable" else "mode=ro&readonly_shm=1"
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA trusted_schema = OFF")  # no function in the file's schema runs on our behalf
            bound_in_time(conn, READ_DEADLINE_S)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            register_stand_ins(conn)  # the old bot's own collations, if it had any
        except sqlite3.DatabaseError as error:
            conn.close()
            raise read_error(path, error, what) from error
        try:
            yield conn
        finally:
            conn.close()
