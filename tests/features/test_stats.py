"""/stats' logic on one server's file: what is stored, when, and not for a link that changed meanwhile."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager, GuildDb
from app.doubles.anilist import AniListDouble
from app.features.anilist_link import link_account, unlink_account
from app.features.stats import fetch_cached, plan_stats, refresh_stats
from app.services.anilist import AniListClient

GUILD = 111_111_111_111_111_111
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[GuildDb, AniListClient]]:
    manager = GuildDatabaseManager(tmp_path / "guild_dbs")
    try:
        async with AniListDouble() as anilist, manager.connect(GUILD) as db:
            client = AniListClient(anilist.url, rate_per_min=6000, timeout=2.0)
            await link_account(db, client, 1, "one", "ShelfTester")
            yield db, client
    finally:
        await manager.close_all()


@pytest.mark.asyncio
async def test_stored_stats_age_against_the_ttl(setup: tuple[GuildDb, AniListClient]) -> None:
    db, client = setup

    async def opened() -> GuildDb:
        return db

    first = await plan_stats(db, 1, ttl_hours=12, refresh=False, whose="You have", now=NOW)
    await refresh_stats(opened, client, first, NOW)
    fresh = await plan_stats(db, 1, ttl_hours=12, refresh=False, whose="You have", now=NOW + timedelta(hours=11))
    old = await plan_stats(db, 1, ttl_hours=12, refresh=False, whose="You have", now=NOW + timedelta(hours=12))
    asked = await plan_stats(db, 1, ttl_hours=12, refresh=True, whose="You have", now=NOW)

    assert first.cached is None and first.stale
    assert fresh.cached is not None and (fresh.cached.total_manga, fresh.cached.cached_at) == (3, "2026-11-30 12:00:00")
    assert not fresh.stale and old.stale and asked.stale


@pytest.mark.asyncio
async def test_stats_of_a_link_removed_meanwhile_are_not_stored(setup: tuple[GuildDb, AniListClient]) -> None:
    db, client = setup

    async def unlinked_meanwhile() -> GuildDb:
        await unlink_account(db, 1)
        return db

    plan = await plan_stats(db, 1, ttl_hours=12, refresh=False, whose="You have", now=NOW)
    shown = await refresh_stats(unlinked_meanwhile, client, plan, NOW)
    stored, _ = await fetch_cached(db, 1, 12, NOW)

    assert shown.total_chapters == 1572
    assert stored is None
