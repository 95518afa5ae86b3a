"""Schemas (guild and bot-wide), their prebuilt template images, and numbered migrations."""
from __future__ import annotations

import functools
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from app.engine import serialize

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql\Z")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int  # the version a file has after this migration
    path: Path

    def statements(self) -> list[str]:
        return split_statements(self.path.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Schema:
    """One kind of database file: its SQL, its migrations and its meta table."""

    kind: str
    sql_path: Path
    migrations_dir: Path
    meta_table: str
    page_size: int = 4096  # of new files (existing ones keep theirs until `db migrate` converts them)

    def migrations(self) -> list[Migration]:
        found = []
        for path in sorted(self.migrations_dir.glob("*.sql")):
            match = _MIGRATION_NAME.match(path.name)
            if match:
                found.append(Migration(int(match.group(1)), path))
        return found

    @property
    def version(self) -> int:
        return _template(self).version

    @property
    def image(self) -> bytes:
        """The file a new database starts as: the schema, built once per process."""
        return _template(self).image

    def image_for(self, identity: int | None) -> bytes:
        """The template image with `identity` as the meta row's guild id (a byte copy, no SQL)."""
        template = _template(self)
        if identity is None:
            return template.image
        if template.identity_offset is None:
            raise ValueError(f"the {self.kind} schema records no guild id")
        at = template.identity_offset
        return b"".join((template.image[:at], identity.to_bytes(8, "big"), template.image[at + 8:]))

    def copy_into(self, target: sqlite3.Connection, identity: int | None) -> None:
        """Fill the empty in-memory `target` with the template, `identity` in its meta row (what a new file holds).

        The backup API, not `deserialize`: pysqlite3 has no `deserialize`, and an in-memory database
        cannot hold the image's WAL header.
        """
        template = _template(self)
        target.execute(f"PRAGMA page_size = {int(self.page_size)}")  # an in-memory copy keeps the source's
        with template.lock:
            template.built.backup(target)
        if identity is not None:
            target.execute(f"UPDATE {self.meta_table} SET guild_id = ?", (identity,))  # noqa: S608 (fixed identifier)


def is_sqlite_internal(name: str) -> bool:
    """One of SQLite's own objects (`sqlite_…`, any case). Not `LIKE 'sqlite_%'`: `_` matches any character
    there, which also took a table named `sqliteXnotes`."""
    return name.lower().startswith("sqlite_")


def own_tables(conn: sqlite3.Connection) -> list[str]:
    """The database's tables by name, SQLite's own left out."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [name for (name,) in names if not is_sqlite_internal(name)]


# The meta row of the template holds this id. Above 2**47, SQLite stores it as a plain 8-byte
# big-endian integer (record serial type 6), and any id below 2**63 is valid in that form:
# so a new file is the image with these 8 bytes replaced, and nothing else differs.
_IDENTITY_SENTINEL = 0x7E57_1D5E_7E57_1D5E
_WAL_FORMAT = b"\x02\x02"  # header bytes 18-19: 1 = rollback journal, 2 = WAL


@dataclass(frozen=True, slots=True)
class _Template:
    version: int
    image: bytes
    identity_offset: int | None
    built: sqlite3.Connection  # the in-memory database the image was taken from, kept for copies
    lock: threading.Lock  # copies are made on several threads


@functools.lru_cache(maxsize=8)
def _template(schema: Schema) -> _Template:
    mem = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        mem.execute(f"PRAGMA page_size = {int(schema.page_size)}")  # before the first table: kept by VACUUM
        mem.executescript(schema.sql_path.read_text(encoding="utf-8"))
        version = mem.execute("PRAGMA user_version").fetchone()[0]
        columns = {r[1] for r in mem.execute(f"PRAGMA table_info({schema.meta_table})")}
        if "guild_id" in columns:
            mem.execute(f"UPDATE {schema.meta_table} SET guild_id = ?", (_IDENTITY_SENTINEL,))  # noqa: S608
        mem.commit()
        mem.execute("VACUUM")
        image = serialize(mem)
    except BaseException:
        mem.close()
        raise
    # Born in WAL mode: that is all `PRAGMA journal_mode=WAL` changes in a file with no journal.
    image = image[:18] + _WAL_FORMAT + image[20:]
    offset = None
    if "guild_id" in columns:
        sentinel = _IDENTITY_SENTINEL.to_bytes(8, "big")
        if image.count(sentinel) != 1:
            raise RuntimeError(f"the {schema.kind} template does not hold its id placeholder exactly once")
        offset = image.index(sentinel)
    return _Template(version=version, image=image, identity_offset=offset, built=mem, lock=threading.Lock())


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers included; several may share a line)."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statement = _strip_comments_only(current)
            if statement:
                statements.append(statement)
            current = ""
    if _strip_comments_only(current.removesuffix(";")):
        raise ValueError("the SQL script ends with an incomplete statement")
    return statements


def _strip_comments_only(text: str) -> str:
    """`text` stripped, or "" if it holds only blank lines and `--` comments."""
    stripped = text.strip()
    lines = [ln.strip() for ln in stripped.splitlines()]
    if all(not ln or ln.startswith("--") or ln == ";" for ln in lines):
        return ""
    return stripped


# 1 KiB pages for guild files: an empty guild is 42 b-trees of one page each (schema version 3), so the page
# size is most of a small guild's bytes (4 KiB pages: 184 KiB; 1 KiB: 54 KiB; measured in bench_storage.py).
GUILD_SCHEMA = Schema("guild", TEMPLATES_DIR / "guild_schema.sql", TEMPLATES_DIR / "migrations",
                      "guild_meta", page_size=1024)
BOT_SCHEMA = Schema("bot-wide", TEMPLATES_DIR / "bot_schema.sql", TEMPLATES_DIR / "bot_migrations",
                    "bot_meta")
