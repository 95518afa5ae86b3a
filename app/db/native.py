"""Direct calls into the linked libsqlite3 for the two costs of a cache miss Python's sqlite3 cannot cut.

1. Skip SQLite's checkpoint-on-close, so that evicting a connection costs ~40 µs, not ~0.6 ms.

By default the last connection to a WAL file checkpoints it, fsyncs, and deletes the
-wal and -shm files when it closes; the next open creates them again. With hundreds
of evictions a second that is most of the cost of a cache miss (measured in
scripts/bench_storage.py). With SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE the WAL stays and
the next open reads it back: nothing is lost (WAL content is committed data), and
`close_connection` still checkpoints a WAL that grew past a bound, and every file
at shutdown, so the -wal files stay small.

Python 3.12+ exposes the switch as `Connection.setconfig`; on 3.11 it is reached
through ctypes, and only when the sqlite3 module is dynamically linked against the
very libsqlite3 loaded in this process (else the default behaviour is kept).

2. Run a connection's settings in one `sqlite3_exec`: `executescript` gives up and
retakes the GIL twice per statement, and on a busy event loop each retake is a wait
(measured: opens took 2 ms in the bot against 0.5 ms alone).
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path

from app.engine import describe as describe_engine

log = logging.getLogger(__name__)

SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE = 1006
WAL_CHECKPOINT_BYTES = 512 * 1024  # a WAL beyond this is checkpointed when its connection closes


@functools.cache
def _linked_libsqlite() -> ctypes.CDLL | None:
    """The libsqlite3 that the `_sqlite3` extension uses, if it is a shared library we can find."""
    if sys.implementation.name != "cpython" or not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = libsqlite_paths(maps)
        bundled = describe_engine().library  # pysqlite3: SQLite's C API is in its extension module
        if bundled is not None:
            paths = {bundled}
        if len(paths) != 1:
            return None
        # already loaded: dlopen returns the same instance
        lib = ctypes.CDLL(paths.pop())  # CDLL releases the GIL for the length of each call
    except OSError:
        return None
    lib.sqlite3_libversion_number.restype = ctypes.c_int
    if lib.sqlite3_libversion_number() != _version_number(sqlite3.sqlite_version):
        return None
    lib.sqlite3_db_config.restype = ctypes.c_int
    lib.sqlite3_exec.restype = ctypes.c_int
    lib.sqlite3_exec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_void_p]
    lib.sqlite3_errmsg.restype = ctypes.c_char_p
    lib.sqlite3_errmsg.argtypes = [ctypes.c_void_p]
    lib.sqlite3_extended_errcode.restype = ctypes.c_int
    lib.sqlite3_extended_errcode.argtypes = [ctypes.c_void_p]
    return lib


def libsqlite_paths(maps: Iterable[str]) -> set[str]:
    """The libsqlite3 files mapped in a `/proc/<pid>/maps` listing (paths may hold spaces; deleted ones skipped)."""
    found = set()
    for line in maps:
        fields = line.rstrip("\n").split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith("/"):
            continue
        path = fields[5]
        if path.endswith(" (deleted)"):
            continue
        if "libsqlite3" in path.rsplit("/", 1)[-1]:
            found.add(path)
    return found


def _version_number(version: str) -> int:
    major, minor, patch = (int(p) for p in version.split(".")[:3])
    return major * 1_000_000 + minor * 1_000 + patch


def _handle(conn: sqlite3.Connection) -> int | None:
    # CPython's pysqlite_Connection starts with `PyObject_HEAD; sqlite3 *db;` (3.11 and later).
    return ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value


def skip_checkpoint_on_close(conn: sqlite3.Connection, skip: bool = True) -> bool:
    """Ask SQLite not to checkpoint when `conn` closes (or, `skip=False`, to do it again); False if this
    build cannot."""
    setconfig = getattr(conn, "setconfig", None)
    if setconfig is not None:  # Python 3.12+: returns None; read the setting back
        setconfig(SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, skip)
        return bool(conn.getconfig(SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE)) == skip  # type: ignore[attr-defined]
    lib = _linked_libsqlite()
    handle = _handle(conn) if lib is not None else None
    if lib is None or not handle:
        return False
    enabled = ctypes.c_int(-1)
    rc = lib.sqlite3_db_config(ctypes.c_void_p(handle), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                               ctypes.c_int(int(skip)), ctypes.byref(enabled))
    return rc == 0 and enabled.value == int(skip)


def exec_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `script` (statements without results) in one call that releases the GIL once.

    Falls back to `executescript` where the library cannot be reached directly.

    Raises:
        sqlite3.DatabaseError: as `executescript` would, with SQLite's code (e.g. NOTADB).
    """
    lib = _linked_libsqlite()
    handle = _handle(conn) if lib is not None else None
    if lib is None or not handle:
        conn.executescript(script)
        return
    rc = lib.sqlite3_exec(handle, script.encode(), None, None, None)
    if rc != 0:
        error = sqlite3.DatabaseError(lib.sqlite3_errmsg(handle).decode(errors="replace"))
        error.sqlite_errorcode = lib.sqlite3_extended_errcode(handle)
        raise error


def close_connection(conn: sqlite3.Connection, path: Path, checkpoint: bool = False,
                     remove_side_files: bool = True) -> bool:
    """Close `conn`; if it wrote, checkpoint first when asked to or when its WAL has grown past the bound.

    A connection whose file's -wal is empty (it only read, or its WAL was just folded back) closes
    as SQLite does by default: if it is the file's last connection (no other process has it open)
    the -wal and the 32 KiB -shm are deleted, so an idle guild is its file alone. A connection that
    only read never checkpoints: a non-empty -wal, another process's included, is left alone.

    Returns True if it wrote: its changes may still be only in the -wal.
    """
    wrote = conn.total_changes > 0
    wal_bytes = -1
    with contextlib.suppress(FileNotFoundError):
        wal_bytes = os.stat(f"{path}-wal").st_size
    if wrote and wal_bytes > 0 and (checkpoint or wal_bytes > WAL_CHECKPOINT_BYTES):
        try:
            if not conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                wal_bytes = 0
        except sqlite3.OperationalError as error:  # busy: another process reads; try next time
            log.debug("checkpoint of %s skipped: %s", path.name, error)
    # nothing to fold back: SQLite's own close removes -wal and -shm if it is the last connection
    if wal_bytes == 0 and remove_side_files:
        skip_checkpoint_on_close(conn, skip=False)
    conn.close()
    return wrote
