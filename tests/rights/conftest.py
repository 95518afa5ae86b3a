from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager, GuildDb, registry

ALICE, BOB, CAROL = 1001, 1002, 1003


@pytest_asyncio.fixture
async def mgr(tmp_path: Path) -> AsyncIterator[GuildDatabaseManager]:
    manager = GuildDatabaseManager(tmp_path / "guild_dbs", max_open=2)
    try:
        yield manager
    finally:
        await manager.close_all()


def _member_rows(me: int, other: int, n: int) -> list[tuple[str, tuple[Any, ...]]]:
    """Rows in every guild table where `me` is the subject, and where `other` appears as counterpart."""
    return [
        ("INSERT INTO users (discord_id, username, anilist_id) VALUES (?, ?, ?)", (me, f"user{me}", me * 7)),
        ("INSERT INTO invites (code, inviter_id, channel_id, uses) VALUES (?, ?, ?, ?)", (f"c{me}", me, 9, 2)),
        ("INSERT INTO invite_uses (invite_code, inviter_id, joiner_id) VALUES (?, ?, ?)", (f"c{other}", other, me)),
        ("INSERT INTO recruitment_stats (inviter_id, total_invites) VALUES (?, ?)", (me, 3)),
        ("INSERT INTO user_leaves (user_id, inviter_id, days_in_server) VALUES (?, ?, ?)", (me, other, 1.5)),
        ("INSERT INTO achievements (discord_id, achievement_key) VALUES (?, ?)", (me, "first")),
        ("INSERT INTO cached_stats (discord_id, total_manga, top_genres) VALUES (?, ?, ?)", (me, n, '["a"]')),
        ("INSERT INTO user_xp (discord_id, xp, level) VALUES (?, ?, ?)", (me, 10 * n, 1)),
        ("INSERT INTO steam_users (discord_id, steam_id) VALUES (?, ?)", (me, "7656119")),
        ("INSERT INTO steam_games (discord_id, app_id, name) VALUES (?, ?, ?)", (me, 570, "Dota")),
        ("INSERT INTO user_preferences (discord_id, profile_color) VALUES (?, ?)", (me, "#fff")),
        ("INSERT INTO reading_days (discord_id, day) VALUES (?, ?)", (me, "2026-03-01")),
        *[("INSERT INTO user_manga_progress (discord_id, manga_id, title, score) VALUES (?, ?, ?, ?)",
           (me, m, f"Manga ✓ {m}", 8.5)) for m in range(n)],
    ]


async def populate(db: GuildDb, *, members: tuple[int, ...] = (ALICE, BOB, CAROL), n: int = 3) -> None:
    """Rows in every table of the guild schema, for several members who refer to each other."""
    async with db.transaction():
        for i, me in enumerate(members):
            other = members[(i + 1) % len(members)]
            for sql, params in _member_rows(me, other, n):
                await db.execute(sql, params)
            rec = await db.execute("INSERT INTO recommendations (discord_id, manga_id, reason) VALUES (?, ?, ?)",
                                   (me, 42, "because"))
            await db.execute("INSERT INTO recommendation_feedback VALUES (?, ?, ?)", (rec.lastrowid, other, 1))
            await db.execute("INSERT INTO recommendation_feedback VALUES (?, ?, ?)", (rec.lastrowid, me, -1))
            ch = await db.execute("INSERT INTO challenges (title, created_by) VALUES (?, ?)", (f"ch{me}", me))
            await db.execute("INSERT INTO challenge_manga (challenge_id, manga_id) VALUES (?, ?)", (ch.lastrowid, 1))
            await db.execute("INSERT INTO user_progress (discord_id, challenge_id, manga_id) VALUES (?, ?, ?)",
                             (other, ch.lastrowid, 1))
            await db.execute("INSERT INTO guild_settings (key, value, updated_by) VALUES (?, ?, ?)",
                             (f"k{me}", '"v"', me))
        await db.execute("INSERT INTO invite_tracker_settings (id, log_channel_id) VALUES (1, 77)")


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, for comparisons."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: sorted(tuple(r) for r in conn.execute(f'SELECT * FROM "{n}"')) for n in names}


def dump_file(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return dump(conn)
    finally:
        conn.close()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GUILD_DBS_DIR for the command-line tests: servers 9001 and 9002 with members, 9002 left (retention 0)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "dbs"))

    async def build() -> None:
        async with GuildDatabaseManager(tmp_path / "dbs", max_open=2) as mgr:
            for guild_id in (9001, 9002):
                async with mgr.connect(guild_id) as db:
                    await populate(db, n=2)
            async with mgr.connect_bot() as bot_db:
                await registry.record_leave(bot_db, 9002, retention_days=0)
    asyncio.run(build())
    return tmp_path / "dbs"
