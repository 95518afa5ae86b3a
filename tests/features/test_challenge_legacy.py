"""Challenges on data the legacy split brought: no join markers, odd dates, 10-point scores, ties."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager, GuildDb
from app.errors import AlreadyExistsError
from app.features import challenges as ch
from app.features import recommend as rec
from app.features.achievements import fetch_member_facts
from app.services.anilist_models import Media

GUILD = 111_111_111_111_111_111
OLD, NEW = 41, 42
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[GuildDatabaseManager]:
    mgr = GuildDatabaseManager(tmp_path / "guild_dbs")
    try:
        yield mgr
    finally:
        await mgr.close_all()


async def seed(db: GuildDb) -> None:
    """As the splitter copies the legacy tables: progress rows per manga, no marker row."""
    async with db.transaction():
        await db.executemany(
            "INSERT INTO challenges (challenge_id, title, start_date, end_date, is_active) VALUES (?, ?, ?, ?, ?)",
            [(2, "Season", "2026-11-01", "2026-12-31", 1), (3, "Open", "2026-11-01 00:00:00", None, 1)])
        await db.execute("INSERT INTO challenge_manga VALUES (2, 500, 'Old manga', 100, 1)")
        await db.execute("INSERT INTO user_progress VALUES (?, 2, 500, 30, 'CURRENT', 3, '2025-02-01 10:00:00')",
                         (OLD,))


@pytest.mark.asyncio
async def test_legacy_progress_counts_as_joined_and_odd_dates_do_not_break_the_list(
        manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD) as db:
        await seed(db)
        listed = await ch.list_challenges(db)
        season = await ch.resolve_challenge(db, "2")
        with pytest.raises(AlreadyExistsError):
            await ch.join_challenge(db, season, OLD)
        await ch.add_manga(db, season, Media(id=600, english="New manga", chapters=50))
        mine = await ch.member_challenges(db, OLD)
        rows = await db.execute_fetchall("SELECT manga_id FROM user_progress WHERE discord_id = ? AND "
                                         "challenge_id = 2 ORDER BY manga_id", (OLD,))
        due = await ch.next_end(db)

    assert [(c.title, c.end) for c in listed] == [("Season", season.end), ("Open", None)]
    assert [(c.title, points) for c, points, _ in mine] == [("Season", 3)]
    assert [r[0] for r in rows] == [500, 600]  # the new manga counts for a member who joined before the split
    assert due == datetime(2027, 1, 1, tzinfo=UTC)  # an open-ended challenge is never due


@pytest.mark.asyncio
async def test_the_champion_of_a_tie_is_whoever_got_there_first(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD) as db:
        async with db.transaction():
            await db.execute("INSERT INTO challenges (challenge_id, title, start_date, end_date, is_active) "
                             "VALUES (1, 'Tie', '2026-11-01', '2026-11-20', 0)")
            await db.executemany("INSERT INTO user_progress VALUES (?, 1, 7, 7, 'CURRENT', 7, ?)",
                                 [(NEW, "2026-11-02T10:00:00+00:00"), (OLD, "2026-11-02T11:00:00+00:00")])
        first = await fetch_member_facts(db, NEW)
        second = await fetch_member_facts(db, OLD)

    assert (first.challenges_won, second.challenges_won) == (1, 0)


@pytest.mark.asyncio
async def test_legacy_ten_point_scores_count_as_high_for_recommendations(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD) as db:
        async with db.transaction():
            await db.executemany("INSERT INTO user_manga_progress (discord_id, manga_id, title, score) "
                                 "VALUES (?, ?, ?, ?)",
                                 [(NEW, 1, "Shared", 90), (OLD, 1, "Shared", 9.0), (OLD, 2, "Loved", 8.5),
                                  (OLD, 3, "Meh", 6.0)])
        found = await rec.local_candidates(db, await rec.fetch_reader(db, NEW))

    assert sorted(found) == [2]
