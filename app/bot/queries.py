"""Queries the bot's own commands need on one guild's file (no Discord here)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.db import GuildDb
from app.db.fleet import file_size, open_guild_read_only, table_counts
from app.db.worker import in_own_thread


@dataclass(frozen=True, slots=True)
class GuildReport:
    guild_id: int
    size_bytes: int
    schema_version: int
    tables: dict[str, int]


def _version_and_counts(path: Path | None, guild_id: int) -> tuple[int, dict[str, int]]:
    with open_guild_read_only(path, guild_id) as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        return version, table_counts(conn)


async def fetch_guild_report(db: GuildDb) -> GuildReport:
    """Size on disk (with -wal/-shm), schema version and rows per table of this guild's file.

    Counting every row of a large file takes a while: it runs on a read-only connection of its
    own, in a thread of its own, so the shared SQL thread keeps serving other servers. A guild never
    written has no file: 0 bytes, and the counts of a new one.
    """
    version, counts = await in_own_thread(_version_and_counts, None if db.is_copy else db.path, db.guild_id)
    return GuildReport(db.guild_id, file_size(db.path), version, counts)


async def increment_setting_counter(db: GuildDb, key: str, *, user_id: int) -> int:
    """Read a numeric setting, write it back plus one (a read and a write in one transaction)."""
    async with db.transaction():
        row = await db.execute_fetchone("SELECT value FROM guild_settings WHERE key = ?", (key,))
        value = (int(json.loads(row[0])) if row else 0) + 1
        await db.execute(
            "INSERT INTO guild_settings (key, value, updated_by) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
            (key, json.dumps(value), user_id))
    return value
