"""Existing database files converted to their template's page size (`python -m app db migrate`).

The page size is no part of the schema: a file with 4 KiB pages is a correct file of its version, only
larger (an empty guild 180 KiB against 52 KiB). So this is not a numbered migration (those are SQL run
in one write transaction at every open, and a `VACUUM` runs outside any transaction and needs the file to
itself) but a pass of `db migrate` over every file whose header names another page size.

One file, holding it the whole time with SQLite's own exclusive lock (the lock `restore` and
`guild delete` take beside a running bot: in WAL mode every open connection holds a shared lock, so a
file the bot has open is skipped as busy within `lock_wait_s`, never waited on):

1. `VACUUM INTO` a copy with the new page size, `.<name>.converting-<pid>-<hex>` in the same folder
   (never a `<id>.sqlite3` name: `ids.guild_id_from_path` ignores it), created 0600, fsynced;
2. the copy is verified: `integrity_check`, page size, the meta row's identity and every table's row
   count equal to the original's (read under the same lock); else it is deleted, the original untouched;
3. the copy is written back into the original with SQLite's backup API in rollback-journal mode
   (`synchronous = EXTRA`; `app/db/writeback.py`, shared with `restore`): the original's pages go to its
   `-journal` first, so a crash at any point leaves a hot journal that the next open (the manager's, or the
   next `db migrate`) rolls back to the original; then WAL mode again, a `quick_check` and the counts once
   more, and the copy is deleted.

Not a rename of the copy over the original: a process that opened the old file just before the rename
would read and write the unlinked inode, and share the `-wal`/`-shm` names with the new one. Written
back in place, the inode stays and SQLite's locks cover every other opener.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.db import writeback
from app.db.files import FILE_MODE
from app.db.fleet import file_size, table_counts
from app.db.schema import Schema

Outcome = Literal["converted", "current", "busy", "damaged", "failed"]
IN_USE_WAIT_S = 0.2  # a file another connection holds is reported busy after this, not waited for
TEMP_INFIX = ".converting-"
_HEADER = b"SQLite format 3\x00"
_DAMAGE = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


@dataclass(frozen=True, slots=True)
class Conversion:
    name: str
    outcome: Outcome
    page_size_before: int  # 0: not a database
    page_size_after: int
    bytes_before: int  # the file with its side files
    bytes_after: int
    seconds: float
    detail: str = ""  # why a file was not converted


class _NotConverted(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def header_page_size(path: Path) -> int | None:
    """The page size the file's header records (no SQLite, no lock), or None if it is not a database."""
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_HEADER):
        return None
    raw = int.from_bytes(head[16:18], "big")
    return 65536 if raw == 1 else raw


def needs_conversion(path: Path, schema: Schema) -> bool:
    return header_page_size(path) != schema.page_size


def leftover_copies(path: Path) -> list[Path]:
    """Copies an interrupted conversion of `path` left behind (never data the file does not hold)."""
    return sorted(path.parent.glob(f".{path.name}{TEMP_INFIX}*"))


def convert_file(path: Path, schema: Schema, *, identity: int | None,
                 lock_wait_s: float = IN_USE_WAIT_S) -> Conversion:
    """Give `path` the schema's page size, verified, in place (see the module's docstring).

    `identity` is the guild id the meta row must hold (None for the bot-wide file). Never raises for
    a file it cannot convert: the outcome says why (`busy`, `damaged`, `failed`) and the file is kept.
    """
    start = time.perf_counter()
    bytes_before = file_size(path)
    before = header_page_size(path)
    if before is None:
        return Conversion(path.name, "damaged", 0, 0, bytes_before, bytes_before,
                          time.perf_counter() - start, "not an SQLite database (its header)")
    if before == schema.page_size:
        return Conversion(path.name, "current", before, before, bytes_before, bytes_before,
                          time.perf_counter() - start)
    try:
        _convert(path, schema, identity, lock_wait_s)
        outcome: Outcome = "converted"
        detail = ""
    except _NotConverted as why:
        outcome, detail = why.outcome, why.detail
    return Conversion(path.name, outcome, before, header_page_size(path) or before, bytes_before,
                      file_size(path), time.perf_counter() - start, detail)


def _convert(path: Path, schema: Schema, identity: int | None, lock_wait_s: float) -> None:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=lock_wait_s,
                           isolation_level=None)
    copy_path: Path | None = None
    try:
        try:
            writeback.hold_alone(conn)  # held until conn closes
        except writeback.FileShared:
            raise _NotConverted("busy", "open in another process (a running bot?); run db migrate again "
                                        "when it is idle") from None
        if header_page_size(path) == schema.page_size:
            raise _NotConverted("current", "converted meanwhile by another run")
        for stale in leftover_copies(path):  # only a converter holding this lock writes them
            stale.unlink(missing_ok=True)
        expected = _contents(conn, schema, identity)
        copy_path = path.with_name(f".{path.name}{TEMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}")
        os.close(os.open(copy_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))  # VACUUM INTO fills it
        conn.execute(f"PRAGMA page_size = {int(schema.page_size)}")
        conn.execute("VACUUM INTO ?", (str(copy_path),))
        with open(copy_path, "rb+") as f:
            os.fsync(f.fileno())
        copy = sqlite3.connect(f"{copy_path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
        try:
            problem = _differences(copy, schema, identity, expected, full=True)
            if header_page_size(copy_path) != schema.page_size:
                problem = problem or f"has {header_page_size(copy_path)}-byte pages"
            if problem:
                raise _NotConverted("failed", f"the converted copy {problem}; the file was kept as it was")
            _write_back(copy, conn, path)
        finally:
            copy.close()
        problem = _differences(conn, schema, identity, expected, full=False)
        if header_page_size(path) != schema.page_size or problem:
            raise _NotConverted("failed", f"after the rewrite the file {problem or 'kept its page size'}")
    except _NotConverted:
        raise
    except sqlite3.DatabaseError as error:
        code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
        raise _NotConverted("damaged" if code in _DAMAGE else "failed", str(error)) from error
    except OSError as error:
        raise _NotConverted("failed", f"{error.strerror or error}") from error
    finally:
        conn.close()
        if copy_path is not None:
            copy_path.unlink(missing_ok=True)
            _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _contents(conn: sqlite3.Connection, schema: Schema, identity: int | None) -> dict[str, int]:
    """Rows per table, after checking the meta row names the file it should."""
    row = conn.execute(f"SELECT {'guild_id' if identity is not None else 'NULL'} "  # noqa: S608 (fixed names)
                       f"FROM {schema.meta_table}").fetchone()
    if row is None or (identity is not None and row[0] != identity):
        raise _NotConverted("damaged", f"its {schema.meta_table} row names {row and row[0]}, not {identity}; "
                                       "left for the operator")
    return table_counts(conn)


def _differences(conn: sqlite3.Connection, schema: Schema, identity: int | None, expected: dict[str, int],
                 *, full: bool) -> str:
    """What is wrong with `conn`'s file against the original ("" if nothing)."""
    check = [r[0] for r in conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check")]
    if check != ["ok"]:
        return f"fails {'integrity_check' if full else 'quick_check'}: {'; '.join(check[:3])}"
    try:
        counts = _contents(conn, schema, identity)
    except _NotConverted as wrong:
        return wrong.detail
    if counts != expected:
        changed = sorted(t for t in expected.keys() | counts.keys() if expected.get(t) != counts.get(t))
        return f"differs in the row counts of {', '.join(changed)}"
    return ""


def _write_back(copy: sqlite3.Connection, target: sqlite3.Connection, path: Path) -> None:
    """The verified copy into the original, journaled: all of it, or (after a crash) none of it."""
    try:
        with writeback.rollback_journal(target, path):  # WAL cannot change the page size
            _copy_back(copy, target)
    except writeback.JournalModeStuck:
        raise _NotConverted("failed", "could not leave WAL mode; the file was kept as it was") from None


def _copy_back(copy: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """The rewrite itself (a seam of its own: tests/db/test_convert.py fails or kills it halfway)."""
    writeback.copy_pages(copy, target)  # the exclusive lock is held: never busy
