"""Blocking work on database files: build from the template, open, check, migrate, quarantine.

Everything here runs on a worker thread, never on the event loop.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from app.db.native import exec_script, skip_checkpoint_on_close
from app.db.schema import Schema
from app.errors import (
    DatabaseBusyError,
    DatabaseQuarantinedError,
    DatabaseUnreadableError,
    GuildDatabaseError,
)

log = logging.getLogger(__name__)

SIDE_FILES = ("-wal", "-shm", "-journal")
FILE_MODE = 0o600  # a server's data is readable by the bot's user only (side files inherit it)
FOLDER_MODE = 0o700
QUARANTINE_INFIX = ".quarantined-"  # a file set aside: `<name>.quarantined-<UTC stamp>` (and its side files)
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_swept: set[Path] = set()  # folders whose build leftovers this process removed (remove_stale_builds)


@dataclass(frozen=True, slots=True)
class OpenOptions:
    busy_timeout_ms: int = 5000  # how long lock waits are retried (from the event loop), then DatabaseBusyError
    cache_kib: int = 256  # page cache per connection: hundreds of open files stay cheap
    inline_vm_steps: int = 20_000  # budget of a statement run on the event loop (0: always the worker)
    skip_checkpoint_on_close: bool = True  # see app/db/native.py and app/db/checkpoint.py
    # A close with an empty -wal also deletes -wal and -shm (native.close_connection). Off while running:
    # the next open must create them again, which halved churn throughput (bench_storage.py); on at
    # shutdown, when every connection closes that way.
    remove_side_files: bool = False
    # A guild never written has no file: reads answer from a read-only copy of a new one, the first write
    # builds it (docs/storage.md). Off by default: ARCHITECTURE.md's manager builds a guild's file when it is
    # first seen; the bot turns it on with GUILD_FILE_CREATION=first-write.
    lazy_files: bool = False
    max_page_count: int = 0  # guild files only, 0 = none: MAX_GUILD_DB_MB (app/ops/quota.py)


def build_file(path: Path, schema: Schema, identity: int | None) -> bool:
    """Create `path` from the schema's template image, atomically.

    The image (with `identity` in its meta row) is written under a temporary name,
    synced, then linked to `path`: a crash at any point leaves either no file or a
    complete one under `path`. Returns False if another builder linked `path` first.
    """
    return _link_new(path, lambda out: out.write(schema.image_for(identity)))


def create_whole(path: Path, fill: Callable[[BinaryIO], object]) -> bool:
    """Create `path` with what `fill` writes, atomically, unless it exists; True if this call created it.

    Under the folder's lock like `ensure_file` (so a bot building the same file takes turns with it, and
    a -wal left without its file is set aside first, never replayed into the new one).
    """
    with _folder_lock(path.parent):
        if path.exists():
            return False
        set_aside_orphans(path)
        remove_stale_builds(path)
        return _link_new(path, fill)


def _link_new(path: Path, fill: Callable[[BinaryIO], object]) -> bool:
    tmp = path.with_name(f".{path.name}.building-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)  # fails if another process created `path` meanwhile: theirs wins
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def make_folder(folder: Path) -> None:
    """Create the data folder (and parents) private to the bot's user; an existing one is left as it is."""
    if not folder.is_dir():
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        folder.chmod(FOLDER_MODE)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Builders of new files take turns, across threads and processes (flock on the folder itself)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def ensure_file(path: Path, schema: Schema, identity: int | None) -> bool:
    """Build `path` unless it exists; True if this call built it.

    Under the folder's lock, so that exactly one of several concurrent builders wins and
    leftovers (a crashed build, a -wal whose file was deleted) are dealt with first.
    """
    with _folder_lock(path.parent):
        if path.exists():
            return False
        set_aside_orphans(path)
        remove_stale_builds(path)
        return build_file(path, schema, identity)


def remove_stale_builds(path: Path) -> None:
    """Delete leftovers of builds interrupted by a crash (never any data) in `path`'s folder, once per process.

    The caller holds the folder's lock, so no build is under way: every `.<name>.building-*` there is a
    leftover. Once per folder and process, not per build: the folder of a bot in 10,000 servers has ~30,000
    entries, and listing it at every new server made building a fleet quadratic. Leftovers of a process
    that crashes later are swept at the next start.
    """
    folder = path.parent
    if folder in _swept:
        return
    with os.scandir(folder) as entries:
        stale = [e.path for e in entries if e.name.startswith(".") and ".sqlite3.building-" in e.name]
    for leftover in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
    _swept.add(folder)


def set_aside_orphans(path: Path) -> None:
    """A -wal or -shm without its file is moved aside: replayed into a new file, deleted rows would return."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            target = path.with_name(f"{path.name}{QUARANTINE_INFIX}{stamp}{suffix}")
            side.rename(target)
            log.warning("set aside %s as %s: its database file is missing", side.name, target.name)


def quarantine(path: Path, reason: str) -> Path:
    """Move `path` and its side files aside under a dated name; never delete them."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}{QUARANTINE_INFIX}{stamp}")
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    log.warning("quarantined %s as %s: %s", path, target.name, reason)
    return target


def set_aside_in(root: Path) -> list[tuple[str, str, Path]]:
    """(the file's own name, the stamp, the copy) of every database copy set aside in `root` (`quarantine`), side
    files left out; none if `root` is not a folder."""
    if not root.is_dir():
        return []
    found = []
    for path in root.glob(f"*.sqlite3{QUARANTINE_INFIX}*"):
        name, _, stamp = path.name.partition(QUARANTINE_INFIX)
        if not stamp.endswith(SIDE_FILES):
            found.append((name, stamp, path))
    return sorted(found)


def _refuse(path: Path, conn: sqlite3.Connection | None, reason: str, user_message: str) -> None:
    if conn is not None:
        conn.close()
    target = quarantine(path, reason)
    raise DatabaseQuarantinedError(user_message, quarantined_as=target.name)


def open_file(path: Path, schema: Schema, identity: int | None, options: OpenOptions,
              create: bool, *, lock_wait_s: float | None = None) -> tuple[sqlite3.Connection, bool]:
    """Open (building it first if `create` and missing) a database file; returns (conn, created).

    A lock held by another connection is waited for in SQLite for `lock_wait_s` (default: the
    busy timeout). The manager passes 0 and retries from the event loop, so that none of its
    shared threads sleeps in the busy handler; the connection returned has no busy timeout.

    Raises:
        DatabaseQuarantinedError: not a database of this schema/identity; moved aside.
        GuildDatabaseError: missing and not to be created, or written by a newer bot.
    """
    created = False
    if not path.exists():
        if not create:
            raise GuildDatabaseError(f"{path.name} does not exist")
        created = ensure_file(path, schema, identity)
    wait = options.busy_timeout_ms / 1000 if lock_wait_s is None else lock_wait_s
    conn = sqlite3.connect(path, timeout=wait, isolation_level=None, check_same_thread=False,
                           cached_statements=64)
    try:
        conn.row_factory = sqlite3.Row
        if options.skip_checkpoint_on_close:
            skip_checkpoint_on_close(conn)
        _configure(conn, options)
        version, page_size = _check_identity(conn, path, schema, identity)
        if version < schema.version:
            migrate(conn, schema)
        elif version > schema.version:
            raise GuildDatabaseError(
                f"{path.name} has schema version {version}, newer than this bot's {schema.version}")
        _finish(conn, wait, max_pages(options, schema, identity, page_size))
    except DatabaseQuarantinedError:
        raise  # closed and moved aside already
    except sqlite3.DatabaseError as error:
        conn.close()
        _diagnose(path, error)
    except BaseException:
        conn.close()
        raise
    return conn, created


Opened = Literal["file", "built", "copy"]


def open_guild(path: Path, schema: Schema, identity: int, options: OpenOptions, *,
               lock_wait_s: float | None = None) -> tuple[sqlite3.Connection, Opened]:
    """The guild's file, built first if missing ("built"); with `options.lazy_files` a missing file is not
    built: a read-only copy of a new one answers instead ("copy"), its file built at the first write.

    Raises:
        as `open_file`.
    """
    if options.lazy_files and not path.exists():
        return open_copy(schema, identity), "copy"
    conn, created = open_file(path, schema, identity, options, True, lock_wait_s=lock_wait_s)
    return conn, "built" if created else "file"


def open_copy(schema: Schema, identity: int | None) -> sqlite3.Connection:
    """An in-memory database equal to a new file of `identity`, refusing writes (`query_only`).

    No statement cache: the connection's authorizer (connection.py) must see every statement.
    """
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False, cached_statements=0)
    try:
        conn.row_factory = sqlite3.Row
        schema.copy_into(conn, identity)
        exec_script(conn, "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;")
    except BaseException:
        conn.close()
        raise
    return conn


def _diagnose(path: Path, error: sqlite3.DatabaseError) -> None:
    """Quarantine only proven damage; anything else is refused with the file left where it is.

    Raises:
        DatabaseQuarantinedError: not a database, or damaged (SQLite's own integrity check fails).
        DatabaseBusyError: locked by another process for longer than the busy timeout.
        DatabaseUnreadableError: a healthy file this SQLite cannot read (newer syntax in its schema).
        GuildDatabaseError: anything else (I/O, permissions); the file is kept.
    """
    code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in _BUSY:
        raise DatabaseBusyError("This server's data file is busy (another program holds it); "
                                "try again in a moment.") from error
    if code == sqlite3.SQLITE_NOTADB:
        target = quarantine(path, str(error))
        raise DatabaseQuarantinedError("This server's data file was damaged and has been set aside "
                                       "for the operator; nothing was deleted.", quarantined_as=target.name)
    if code == sqlite3.SQLITE_CORRUPT and "malformed database schema" in str(error):
        raise DatabaseUnreadableError(
            f"This server's data file needs a newer SQLite than this bot's {sqlite3.sqlite_version}; "
            "it was kept as it is for the operator.") from error
    if code == sqlite3.SQLITE_CORRUPT and not _passes_quick_check(path):
        target = quarantine(path, str(error))
        raise DatabaseQuarantinedError("This server's data file was damaged and has been set aside "
                                       "for the operator; nothing was deleted.", quarantined_as=target.name)
    raise GuildDatabaseError(f"{path.name} could not be opened: {error}") from error


def _passes_quick_check(path: Path) -> bool:
    try:
        conn = sqlite3.connect(path, timeout=1.0)
        try:
            return [tuple(r) for r in conn.execute("PRAGMA quick_check")] == [("ok",)]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        return (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF not in (sqlite3.SQLITE_CORRUPT,
                                                                           sqlite3.SQLITE_NOTADB)


def _configure(conn: sqlite3.Connection, options: OpenOptions) -> None:
    # One call for the settings (the busy timeout came with connect): this runs on every
    # cache miss, and each call into SQLite is a wait for the GIL on a busy event loop.
    # The first setting reads the file: NOTADB and CORRUPT surface here. secure_delete
    # overwrites deleted content, so an erased member's bytes do not stay in free pages.
    # With inline statements commits may run on the event loop: SQLite's own checkpoint (which
    # fsyncs) is off, the connection checkpoints on its worker (connection.py).
    no_autocheckpoint = " PRAGMA wal_autocheckpoint = 0;" if options.inline_vm_steps else ""
    exec_script(conn, f"PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
                      f"PRAGMA cache_size = -{int(options.cache_kib)};{no_autocheckpoint}")


def max_pages(options: OpenOptions, schema: Schema, identity: int | None, page_size: int) -> int:
    """The quota in pages of this file's size (guild files only; 0: none): a file still with larger pages
    than its template's gets fewer of them."""
    if identity is None or not options.max_page_count:
        return 0
    return int(options.max_page_count) * schema.page_size // page_size


def _finish(conn: sqlite3.Connection, wait: float, page_limit: int) -> None:
    # After migrating (a migration is never refused by the quota), in one call: on a busy event loop each
    # call into SQLite is a wait for the GIL (docs/storage.md, "What an open costs").
    settings = []
    if wait:  # from here on, lock waits happen on the event loop, never on a shared thread (connection.py)
        settings.append("PRAGMA busy_timeout = 0;")
    if page_limit:
        settings.append(f"PRAGMA max_page_count = {int(page_limit)};")
    if settings:
        exec_script(conn, " ".join(settings))


def _check_identity(conn: sqlite3.Connection, path: Path, schema: Schema,
                    identity: int | None) -> tuple[int, int]:
    """Return the file's schema version and page size after checking it is the file it claims to be.

    One statement reads the header (NOTADB surfaces here), the meta row, the version, the page size
    and the journal mode; WAL is switched on only for a file that is not in WAL yet.
    """
    owner = "guild_id" if identity is not None else "NULL"
    try:
        row = conn.execute(
            f"SELECT {owner}, (SELECT user_version FROM pragma_user_version), "  # noqa: S608 (fixed identifiers)
            f"(SELECT journal_mode FROM pragma_journal_mode), (SELECT page_size FROM pragma_page_size) "
            f"FROM {schema.meta_table}").fetchone()
    except sqlite3.OperationalError as error:
        if not str(error).startswith("no such "):
            raise
        row = None
    if row is None:
        _refuse(path, conn, f"no {schema.meta_table} row",
                "This server's data file is not one of ours and has been set aside for the operator.")
    recorded, version, journal_mode, page_size = row
    if identity is not None and recorded != identity:
        _refuse(path, conn, f"records guild {recorded}, not {identity}",
                "This server's data file belongs to another server and has been set aside for the operator.")
    if journal_mode != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    return int(version), int(page_size)


def migrate(conn: sqlite3.Connection, schema: Schema) -> int:
    """Bring the file to the current version in one write transaction; returns the old version."""
    conn.execute("BEGIN IMMEDIATE")  # the file-wide write lock: one migrator at a time
    try:
        before = int(conn.execute("PRAGMA user_version").fetchone()[0])  # re-read under the lock
        for migration in schema.migrations():
            if migration.version <= before:
                continue
            for statement in migration.statements():
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        after = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if after != schema.version:
            raise GuildDatabaseError(f"migrations end at version {after}, the schema is {schema.version}")
        conn.execute(f"UPDATE {schema.meta_table} SET schema_version = ?", (after,))  # noqa: S608 (fixed identifier)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if before != after:
        log.info("migrated %s from schema version %d to %d", schema.kind, before, after)
    return before
