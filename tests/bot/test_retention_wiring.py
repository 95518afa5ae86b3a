"""The bot runs the data-rights upkeep on its own: interrupted deletions, the retention purge."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.config import Settings
from app.db import GuildDatabaseManager
from app.db.registry import RegistryEntry, fetch_entry, record_leave
from app.sandbox.harness import eventually, running_bot
from tests.db.helpers import build_guild_file
from tests.e2e import GUILD_A, GUILD_B, give_a_file

pytestmark = pytest.mark.asyncio


async def _receipts(root: Path) -> list[tuple[int, str]]:
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        rows = await bot_db.execute_fetchall("SELECT guild_id, requested_by FROM deletion_receipts")
    return [tuple(r) for r in rows]


async def test_with_zero_retention_days_leaving_a_guild_purges_its_file(tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    async with running_bot(root, guilds=[GUILD_A, GUILD_B], settings=Settings(retention_days=0)) as h:
        await give_a_file(h, GUILD_A)
        await give_a_file(h, GUILD_B)
        await h.remove_bot_from_guild(GUILD_A)
        await eventually(lambda: _gone(root / f"{GUILD_A}.sqlite3"))
    assert (root / f"{GUILD_B}.sqlite3").exists()
    assert await _receipts(root) == [(GUILD_A, "retention")]


async def test_a_guild_past_its_retention_is_purged_when_the_bot_starts(tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    build_guild_file(root, GUILD_B)
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        await record_leave(bot_db, GUILD_B, retention_days=30, now=datetime.now(UTC) - timedelta(days=31))
    async with running_bot(root, guilds=[GUILD_A]):
        await eventually(lambda: _gone(root / f"{GUILD_B}.sqlite3"))
    assert await _receipts(root) == [(GUILD_B, "retention")]


async def test_a_guild_the_bot_left_recently_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    async with running_bot(root, guilds=[GUILD_A, GUILD_B]) as h:  # RETENTION_DAYS defaults to 30
        await give_a_file(h, GUILD_A)
        await h.remove_bot_from_guild(GUILD_A)
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        entry = await fetch_entry(bot_db, GUILD_A)
    assert entry is not None and entry.left_at is not None and entry.purge_after is not None
    assert (root / f"{GUILD_A}.sqlite3").exists()
    assert await _receipts(root) == []


async def _gone(path: Path) -> bool:
    return not path.exists()


async def test_files_of_guilds_missing_from_ready_start_their_retention(tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    gone, left_before = 333_333_333_333_333_333, 444_444_444_444_444_444
    long_ago = datetime(2026, 11, 1, tzinfo=UTC)
    for guild_id in (GUILD_A, gone, left_before):
        build_guild_file(root, guild_id)
    async with GuildDatabaseManager(root, max_open=4) as manager, manager.connect_bot() as bot_db:
        await record_leave(bot_db, left_before, retention_days=90, now=long_ago)

    async def entries() -> dict[int, RegistryEntry | None]:
        async with GuildDatabaseManager(root, max_open=2) as m, m.connect_bot() as bot_db:
            return {g: await fetch_entry(bot_db, g) for g in (GUILD_A, gone, left_before)}

    async with running_bot(root, guilds=[GUILD_A]):
        await eventually(lambda: _left(root, gone))
    seen = await entries()
    here, absent, earlier = seen[GUILD_A], seen[gone], seen[left_before]
    assert here is not None and here.left_at is None
    assert absent is not None and absent.purge_after is not None
    assert earlier is not None and earlier.left_at == "2026-11-01T00:00:00Z"


async def _left(root: Path, guild_id: int) -> bool:
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        entry = await fetch_entry(bot_db, guild_id)
    return entry is not None and entry.left_at is not None
