"""Building files of older schema versions, for the migration tests."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from app.db import files
from app.db.schema import GUILD_SCHEMA, Schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V1_SCHEMA = Schema("guild", FIXTURES / "guild_schema_v1.sql", FIXTURES / "no-migrations", "guild_meta")


def build_v1_file(root: Path, guild_id: int, *, xp_rows: int = 3) -> Path:
    """A guild file as version 1 of the bot wrote it, with some data in it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{guild_id}.sqlite3"
    files.build_file(path, V1_SCHEMA, guild_id)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)",
                     [(i, i * 10) for i in range(1, xp_rows + 1)])
    conn.commit()
    conn.close()
    return path


def build_guild_file(root: Path, guild_id: int) -> Path:
    """The file a guild's first write builds, with nothing in it (a guild only read has no file)."""
    files.make_folder(root)
    path = root / f"{guild_id}.sqlite3"
    files.ensure_file(path, GUILD_SCHEMA, guild_id)
    return path
