"""Week Streak: the days a member recorded progress are kept (`reading_days`), not only each manga's last update."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from app.db import GUILD_SCHEMA, GuildDatabaseManager, GuildDb
from app.features.achievements import fetch_member_facts
from app.features.progress import record_chapter, remove_entry
from app.services.anilist_models import Media
from tests.e2e import GUILD_A, GUILD_B, MEMBER
from tests.features.anilist_fixtures import World, world

__all__ = ["world"]
WEEK_STREAK = "🏆 Achievement unlocked: **Week Streak** — Record reading progress on 7 days in a row."
ONE_PIECE = Media(id=30013, english="One Piece")
BERSERK = Media(id=30002, english="Berserk")


async def _days(db: GuildDb, user_id: int) -> list[str]:
    rows = await db.execute_fetchall("SELECT day FROM reading_days WHERE discord_id = ? ORDER BY day", (user_id,))
    return [str(r[0]) for r in rows]


@pytest.mark.asyncio
async def test_updating_the_same_manga_on_7_consecutive_bot_days_earns_the_week_streak(world: World) -> None:
    replies = []
    for chapter in range(1, 8):
        if chapter > 1:
            await world.bot.advance(timedelta(days=1))
        reply = await world.bot.command(GUILD_A, MEMBER, "manga update",
                                        {"title": "One Piece", "chapter": str(chapter)})
        replies.append(reply.content)

    assert [WEEK_STREAK in r for r in replies] == [False] * 6 + [True]
    async with world.bot.bot.manager.connect(GUILD_A) as db:
        days = await _days(db, MEMBER)
    first = world.bot.clock.now().date() - timedelta(days=6)
    assert days == [(first + timedelta(days=i)).isoformat() for i in range(7)]  # the bot's clock, not the host's


@pytest.mark.asyncio
async def test_a_progress_update_records_its_bot_clock_day_once_with_the_progress(
        manager: GuildDatabaseManager) -> None:
    morning = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    async with manager.connect(GUILD_A) as db:
        await record_chapter(db, ONE_PIECE, MEMBER, "m", 1, now=morning)
        await record_chapter(db, BERSERK, MEMBER, "m", 1, now=morning + timedelta(hours=23))
        await record_chapter(db, ONE_PIECE, MEMBER, "m", 2, now=morning + timedelta(hours=24))
        (updated,) = await db.execute_fetchall(
            "SELECT updated_at FROM user_manga_progress WHERE discord_id = ? AND manga_id = ?", (MEMBER, ONE_PIECE.id))
        days = await _days(db, MEMBER)
        await remove_entry(db, MEMBER, "One Piece")  # the progress goes; the days read stay
        days_after_remove = await _days(db, MEMBER)
    async with manager.connect(GUILD_B) as db:
        elsewhere = await db.execute_fetchall("SELECT * FROM reading_days")
    assert days == days_after_remove == ["2026-03-01", "2026-03-02"]
    assert str(updated[0]).startswith(days[-1])  # the same clock as the progress row
    assert elsewhere == []


@pytest.mark.asyncio
async def test_a_refused_update_records_no_day(manager: GuildDatabaseManager) -> None:
    finished = Media(id=5, english="Short", chapters=3)
    async with manager.connect(GUILD_A) as db:
        with pytest.raises(Exception, match="has 3 chapters"):
            await record_chapter(db, finished, MEMBER, "m", 4, now=datetime(2026, 3, 1, tzinfo=UTC))
        days = await _days(db, MEMBER)
    assert days == []


@pytest.mark.asyncio
async def test_the_streak_joins_recorded_days_with_the_days_of_older_progress_rows(
        manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        async with db.transaction():  # rows from before reading_days existed (legacy, or before the migration)
            await db.executemany("INSERT INTO user_manga_progress (discord_id, manga_id, updated_at) VALUES (?, ?, ?)",
                                 [(MEMBER, 1, "2026-01-01 10:00:00"), (MEMBER, 2, "2026-01-02T23:59:59"),
                                  (MEMBER, 3, "2026-01-03 08:00:00")])
        older_only = (await fetch_member_facts(db, MEMBER)).streak_days
        for day in range(4, 8):
            await record_chapter(db, ONE_PIECE, MEMBER, "m", day, now=datetime(2026, 1, day, 12, tzinfo=UTC))
        joined = (await fetch_member_facts(db, MEMBER)).streak_days
    assert (older_only, joined) == (3, 7)


@pytest.mark.parametrize("day", ["2026-02-30", "2026-3-1", "2026-03-01 10:00:00", "not a day"])
def test_a_day_that_is_not_a_calendar_day_is_refused(day: str) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(GUILD_SCHEMA.sql_path.read_text(encoding="utf-8"))
        conn.execute("INSERT INTO reading_days (discord_id, day) VALUES (1, '2026-03-01')")
        with pytest.raises(sqlite3.IntegrityError) as caught:
            conn.execute("INSERT INTO reading_days (discord_id, day) VALUES (1, ?)", (day,))
    finally:
        conn.close()
    assert "CHECK constraint failed" in str(caught.value)
