"""Attacks on Week Streak's reading_days (schema version 3): files and backups of version 2 meet a version 3 bot."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.backup import backup_folder, restore_files
from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.features.achievements import fetch_member_facts
from app.features.progress import record_chapter
from app.services.anilist_models import Media

GUILD = 111_111_111_111_111_111
MEMBER = 222_222_222_222_222_222
ONE_PIECE = Media(id=30013, english="One Piece")


def _to_v2(path: Path) -> None:
    """The guild file as a version 2 bot left it (before migration 0003)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("DROP TABLE reading_days")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("UPDATE guild_meta SET schema_version = 2")
    finally:
        conn.close()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_a_v2_backup_restored_beside_a_running_v3_bot_leaves_its_file_at_v3(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    async with GuildDatabaseManager(root) as made:
        async with made.connect_bot():
            pass
        async with made.connect(GUILD) as db, db.transaction():
            await db.execute("INSERT INTO users (discord_id, username) VALUES (?, 'm')", (MEMBER,))
    _to_v2(root / f"{GUILD}.sqlite3")
    backup_folder(root, out, retention_days=30)  # every backup taken before the upgrade is of version 2
    [generation] = [p for p in out.iterdir() if p.is_dir()]

    bot = GuildDatabaseManager(root)
    try:
        async with bot.connect(GUILD) as db:  # the upgraded bot opens (and migrates) the file, and keeps it open
            await record_chapter(db, ONE_PIECE, MEMBER, "m", 1, now=datetime(2026, 3, 1, tzinfo=UTC))
        [result] = restore_files(root, generation, guild_id=GUILD, force=True)  # the operator, beside the bot
        async with bot.connect(GUILD) as db:
            await record_chapter(db, ONE_PIECE, MEMBER, "m", 2, now=datetime(2026, 3, 2, tzinfo=UTC))
            streak = (await fetch_member_facts(db, MEMBER)).streak_days
    finally:
        await bot.close_all()

    assert result.outcome == "restored"
    assert _version(root / f"{GUILD}.sqlite3") == GUILD_SCHEMA.version
    assert streak == 1
