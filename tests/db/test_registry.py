from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.registry import clear_purge, fetch_entry, list_expired, record_absent, record_join, record_leave

pytestmark = pytest.mark.asyncio
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_leave_sets_the_purge_date_and_a_rejoin_cancels_it(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path) as manager, manager.connect_bot() as bot_db:
        await record_join(bot_db, 1, name="Club", now=T0)
        await record_leave(bot_db, 1, retention_days=30, now=T0 + timedelta(days=1))
        left = await fetch_entry(bot_db, 1)
        expired_early = await list_expired(bot_db, now=T0 + timedelta(days=30))
        expired_late = await list_expired(bot_db, now=T0 + timedelta(days=31))
        await record_join(bot_db, 1, now=T0 + timedelta(days=2))
        back = await fetch_entry(bot_db, 1)
    assert left is not None and (left.left_at, left.purge_after) == ("2026-01-02T00:00:00Z", "2026-02-01T00:00:00Z")
    assert expired_early == [] and [e.guild_id for e in expired_late] == [1]
    assert back is not None and (back.name, back.left_at, back.purge_after) == ("Club", None, None)


async def test_absent_guilds_start_retention_once_and_keep_their_first_date(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path) as manager, manager.connect_bot() as bot_db:
        await record_join(bot_db, 1, now=T0)
        first = await record_absent(bot_db, [1, 2], retention_days=10, now=T0 + timedelta(days=1))
        again = await record_absent(bot_db, [1, 2], retention_days=10, now=T0 + timedelta(days=5))
        entries = [await fetch_entry(bot_db, g) for g in (1, 2)]
        await clear_purge(bot_db, 2)
        cleared = await fetch_entry(bot_db, 2)
    assert (first, again) == (2, 0)
    assert [e.purge_after for e in entries if e] == ["2026-01-12T00:00:00Z", "2026-01-12T00:00:00Z"]
    assert cleared is not None and cleared.purge_after is None and cleared.left_at is not None
