"""Schemas (guild and bot-wide), their prebuilt template images, and numbered migrations."""
from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


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


@dataclass(frozen=True, slots=True)
class _Template:
    version: int
    image: bytes


@functools.lru_cache(maxsize=8)
def _template(schema: Schema) -> _Template:
    mem = sqlite3.connect(":memory:")
    try:
        mem.executescript(schema.sql_path.read_text(encoding="utf-8"))
        version = mem.execute("PRAGMA user_version").fetchone()[0]
        mem.execute("VACUUM")
        image = mem.serialize()
    finally:
        mem.close()
    # An in-memory image records journal mode "memory"; mark it a rollback-journal file
    # (header bytes 18-19 = 1); WAL is switched on when the real file is first opened.
    image = image[:18] + b"\x01\x01" + image[20:]
    return _Template(version=version, image=image)


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers included)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            stripped = current.strip()
            if stripped and not all(ln.strip().startswith("--") or not ln.strip()
                                    for ln in stripped.splitlines()):
                statements.append(stripped)
            current = ""
    if current.strip() and not all(ln.strip().startswith("--") or not ln.strip()
                                   for ln in current.splitlines()):
        raise ValueError("the SQL script ends with an incomplete statement")
    return statements


GUILD_SCHEMA = Schema("guild", TEMPLATES_DIR / "guild_schema.sql", TEMPLATES_DIR / "migrations",
                      "guild_meta")
BOT_SCHEMA = Schema("bot-wide", TEMPLATES_DIR / "bot_schema.sql", TEMPLATES_DIR / "bot_migrations",
                    "bot_meta")
