"""Operations over every file in the guild folder: list, inspect, check, migrate."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.db.files import SIDE_FILES, open_copy
from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path
from app.db.schema import GUILD_SCHEMA, own_tables
from app.errors import GuildDatabaseError, NotFoundError


@dataclass(frozen=True, slots=True)
class GuildFile:
    guild_id: int
    path: Path
    size_bytes: int  # the file with its -wal and -shm
    modified: datetime


@dataclass(frozen=True, slots=True)
class GuildFileInfo:
    guild_id: int
    path: Path
    size_bytes: int
    schema_version: int
    tables: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def file_size(path: Path) -> int:
    """Bytes of a database file and its side files."""
    total = 0
    for candidate in [path, *(path.with_name(path.name + s) for s in SIDE_FILES)]:
        try:
            total += candidate.stat().st_size
        except FileNotFoundError:
            continue
    return total


def list_guild_files(root: Path) -> list[GuildFile]:
    """Every `<guild_id>.sqlite3` under `root`, by id; other files are ignored."""
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        guild_id = guild_id_from_path(path)
        if guild_id is None or not path.is_file():
            continue
        wal = path.with_name(path.name + "-wal")
        modified = max(path.stat().st_mtime, wal.stat().st_mtime if wal.exists() else 0.0)
        found.append(GuildFile(guild_id, path, file_size(path), datetime.fromtimestamp(modified, UTC)))
    return sorted(found, key=lambda f: f.guild_id)


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection that never creates the file."""
    if not path.is_file():
        raise NotFoundError(f"There is no database file {path.name} in {path.parent}.")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        yield conn
    finally:
        conn.close()


def recorded_guild(path: Path) -> int | None:
    """The guild id the file's meta row records (None: no row), read without writing to the file or, when no
    other connection has it open (no -wal), creating side files beside it.

    Raises:
        sqlite3.Error: it cannot be read (locked, damaged, not a database, no meta table).
    """
    mode = "mode=ro" if path.with_name(path.name + "-wal").exists() else "mode=ro&immutable=1"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, timeout=5.0)
    try:
        row = conn.execute(f"SELECT guild_id FROM {GUILD_SCHEMA.meta_table}").fetchone()  # noqa: S608 (the schema's)
    finally:
        conn.close()
    return None if row is None else row[0]


def open_guild_read_only(path: Path | None, guild_id: int) -> AbstractContextManager[sqlite3.Connection]:
    """The guild's file, read-only; `path` None (a guild never written, so no file): a copy of a new one."""
    if path is None:
        return closing(open_copy(GUILD_SCHEMA, guild_id))
    return open_read_only(path)


def schema_version_of(path: Path) -> int:
    with open_read_only(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = own_tables(conn)
    # names come from sqlite_master itself; quoting guards odd ones
    return {n: conn.execute(f'SELECT COUNT(*) FROM "{n.replace(chr(34), chr(34) * 2)}"').fetchone()[0]  # noqa: S608
            for n in names}


def guild_info(root: Path, guild_id: int) -> GuildFileInfo:
    """Size, schema version and rows per table of one guild's file.

    Raises:
        NotFoundError: the guild has no file.
    """
    path = root / guild_file_name(guild_id)
    try:
        with open_read_only(path) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            counts = table_counts(conn)
    except sqlite3.DatabaseError as error:
        raise GuildDatabaseError(f"{path.name} is not a readable database: {error}") from error
    return GuildFileInfo(guild_id, path, file_size(path), version, counts)


def check_file(path: Path) -> CheckResult:
    """PRAGMA integrity_check on one file (read-only)."""
    try:
        with open_read_only(path) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:
        return CheckResult(path.name, False, str(error))
    ok = rows == ["ok"]
    return CheckResult(path.name, ok, "ok" if ok else "; ".join(rows[:5]))


def files_to_check(root: Path) -> list[Path]:
    paths = [f.path for f in list_guild_files(root)]
    bot = root / BOT_FILE_NAME
    return [*paths, bot] if bot.is_file() else paths
