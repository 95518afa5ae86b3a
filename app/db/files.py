"""Blocking work on database files: build from the template, open, check, migrate, quarantine.

Everything here runs on a worker thread, never on the event loop.
"""
from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.db.native import exec_script, skip_checkpoint_on_close
from app.db.schema import Schema
from app.errors import DatabaseQuarantinedError, GuildDatabaseError

log = logging.getLogger(__name__)

SIDE_FILES = ("-wal", "-shm", "-journal")
_NOT_A_DATABASE = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


@dataclass(frozen=True, slots=True)
class OpenOptions:
    busy_timeout_ms: int = 5000
    cache_kib: int = 256  # page cache per connection: hundreds of open files stay cheap
    skip_checkpoint_on_close: bool = True  # see app/db/checkpoint.py


def build_file(path: Path, schema: Schema, identity: int | None) -> None:
    """Create `path` from the schema's template image, atomically.

    The image (with `identity` in its meta row) is written under a temporary name,
    synced, then linked to `path`: a crash at any point leaves either no file or a
    complete one under `path`.
    """
    tmp = path.with_name(f".{path.name}.building-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as out:
            out.write(schema.image_for(identity))
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)  # fails if another process created `path` meanwhile: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_builds(path: Path) -> None:
    """Delete leftovers of builds of `path` interrupted by a crash (never any data)."""
    for stale in path.parent.glob(f".{path.name}.building-*"):
        stale.unlink(missing_ok=True)


def quarantine(path: Path, reason: str) -> Path:
    """Move `path` and its side files aside under a dated name; never delete them."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.quarantined-{stamp}")
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    log.warning("quarantined %s as %s: %s", path, target.name, reason)
    return target


def _refuse(path: Path, conn: sqlite3.Connection | None, reason: str, user_message: str) -> None:
    if conn is not None:
        conn.close()
    target = quarantine(path, reason)
    raise DatabaseQuarantinedError(user_message, quarantined_as=target.name)


def open_file(path: Path, schema: Schema, identity: int | None, options: OpenOptions,
              create: bool) -> tuple[sqlite3.Connection, bool]:
    """Open (building it first if `create` and missing) a database file; returns (conn, created).

    Raises:
        DatabaseQuarantinedError: not a database of this schema/identity; moved aside.
        GuildDatabaseError: missing and not to be created, or written by a newer bot.
    """
    created = False
    if not path.exists():
        if not create:
            raise GuildDatabaseError(f"{path.name} does not exist")
        remove_stale_builds(path)
        build_file(path, schema, identity)
        created = True
    conn = sqlite3.connect(path, timeout=options.busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False, cached_statements=64)
    try:
        conn.row_factory = sqlite3.Row
        if options.skip_checkpoint_on_close:
            skip_checkpoint_on_close(conn)
        _configure(conn, options)
        version = _check_identity(conn, path, schema, identity)
        if version < schema.version:
            migrate(conn, schema)
        elif version > schema.version:
            conn.close()
            raise GuildDatabaseError(
                f"{path.name} has schema version {version}, newer than this bot's {schema.version}")
    except sqlite3.DatabaseError as error:
        if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF not in _NOT_A_DATABASE:
            conn.close()
            raise GuildDatabaseError(f"{path.name} could not be opened: {error}") from error
        _refuse(path, conn, str(error), "This server's data file was damaged and has been set aside "
                "for the operator; nothing was deleted.")
    return conn, created


def _configure(conn: sqlite3.Connection, options: OpenOptions) -> None:
    # One call for the settings (the busy timeout came with connect): this runs on every
    # cache miss, and each call into SQLite is a wait for the GIL on a busy event loop.
    # The first setting reads the file: NOTADB and CORRUPT surface here.
    exec_script(conn, f"PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                      f"PRAGMA cache_size = -{int(options.cache_kib)};")


def _check_identity(conn: sqlite3.Connection, path: Path, schema: Schema, identity: int | None) -> int:
    """Return the file's schema version after checking it is the file it claims to be.

    One statement reads the header (NOTADB surfaces here), the meta row, the version
    and the journal mode; WAL is switched on only for a file that is not in WAL yet.
    """
    owner = "guild_id" if identity is not None else "NULL"
    try:
        row = conn.execute(
            f"SELECT {owner}, (SELECT user_version FROM pragma_user_version), "  # noqa: S608 (fixed identifiers)
            f"(SELECT journal_mode FROM pragma_journal_mode) FROM {schema.meta_table}").fetchone()
    except sqlite3.OperationalError as error:
        if not str(error).startswith("no such "):
            raise
        row = None
    if row is None:
        _refuse(path, conn, f"no {schema.meta_table} row",
                "This server's data file is not one of ours and has been set aside for the operator.")
    recorded, version, journal_mode = row
    if identity is not None and recorded != identity:
        _refuse(path, conn, f"records guild {recorded}, not {identity}",
                "This server's data file belongs to another server and has been set aside for the operator.")
    if journal_mode != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    return int(version)


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
        conn.execute("ROLLBACK")
        raise
    if before != after:
        log.info("migrated %s from schema version %d to %d", schema.kind, before, after)
    return before
