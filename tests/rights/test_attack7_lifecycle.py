"""Attack 7: the guild lifecycle (leave, retention, purge) seen from the running bot and the registry."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.config import Settings
from app.db import GuildDatabaseManager, registry
from app.rights.receipts import list_receipts
from app.rights.retention import purge_expired
from app.sandbox.harness import BotHarness, eventually, running_bot
from tests.db.helpers import build_guild_file
from tests.e2e import GUILD_A, GUILD_B, give_a_file

pytestmark = pytest.mark.asyncio


async def _entry(root: Path, guild_id: int) -> registry.RegistryEntry | None:
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        return await registry.fetch_entry(bot_db, guild_id)


async def _receipts(root: Path) -> list[tuple[int | None, str]]:
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        return [(r.guild_id, r.requested_by) for r in await list_receipts(bot_db)]


async def test_a_guild_back_in_ready_but_unavailable_is_not_purged_at_start(tmp_path: Path) -> None:
    """Left long ago, added back while the bot was down, in an outage at start: READY lists it, no GUILD_CREATE."""
    root = tmp_path / "guild_dbs"
    build_guild_file(root, GUILD_B)
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        await registry.record_leave(bot_db, GUILD_B, retention_days=30, now=datetime.now(UTC) - timedelta(days=31))
    harness = BotHarness(Settings(guild_dbs_dir=root), guilds=[GUILD_A])
    harness.double.place_bot(GUILD_B).unavailable = True  # the bot is in it; Discord has lost it for now
    await harness.start()
    try:
        await harness.advance(timedelta(seconds=1))  # the start's upkeep round has run
        assert (root / f"{GUILD_B}.sqlite3").exists()
        await harness.advance(timedelta(hours=2))  # and the next rounds too
        assert (root / f"{GUILD_B}.sqlite3").exists()
    finally:
        await harness.stop()
    assert await _receipts(root) == []
    entry = await _entry(root, GUILD_B)
    assert entry is not None and entry.purge_after is None


async def test_leave_join_leave_restarts_retention_from_the_last_leave(tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    async with running_bot(root, guilds=[GUILD_A]) as h:
        await give_a_file(h, GUILD_A)
        await h.remove_bot_from_guild(GUILD_A)
        await h.advance(timedelta(days=20))
        await h.add_bot_to_guild(GUILD_A)
        await h.advance(timedelta(days=5))
        await h.remove_bot_from_guild(GUILD_A)
        await h.advance(timedelta(days=29))
        assert (root / f"{GUILD_A}.sqlite3").exists()
        await h.advance(timedelta(days=1, seconds=1))
        assert not (root / f"{GUILD_A}.sqlite3").exists()
    assert await _receipts(root) == [(GUILD_A, "retention")]


async def test_a_file_that_came_back_after_the_purge_starts_a_new_retention_at_ready(tmp_path: Path) -> None:
    """Purged (left, nothing pending), then a file of it appears again (a late split, a copy put back by hand):
    READY does not list the guild, so that file must be purged in its turn, not kept forever."""
    root = tmp_path / "guild_dbs"
    long_ago = datetime.now(UTC) - timedelta(days=90)
    build_guild_file(root, GUILD_B)
    async with GuildDatabaseManager(root, max_open=2) as manager:
        async with manager.connect_bot() as bot_db:
            await registry.record_leave(bot_db, GUILD_B, retention_days=30, now=long_ago)
        assert [r.outcome for r in await purge_expired(manager)] == ["deleted"]
    build_guild_file(root, GUILD_B)  # back on disk
    async with running_bot(root, guilds=[GUILD_A], settings=Settings(retention_days=30)):
        pass
    entry = await _entry(root, GUILD_B)
    assert entry is not None and entry.purge_after is not None, entry
    assert entry.left_at is not None and entry.left_at > long_ago.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_set_aside_copy_of_a_guild_absent_from_ready_starts_its_retention(tmp_path: Path) -> None:
    """The bot was removed while offline from a guild whose only file is a damaged copy set aside earlier."""
    root = tmp_path / "guild_dbs"
    build_guild_file(root, GUILD_B).rename(root / f"{GUILD_B}.sqlite3.quarantined-20260101T000000Z")
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect_bot() as bot_db:
        await registry.record_join(bot_db, GUILD_B, name="B")
    async with running_bot(root, guilds=[GUILD_A], settings=Settings(retention_days=0)) as h:

        async def marked_left() -> bool:
            entry = await _entry(root, GUILD_B)
            return entry is not None and entry.left_at is not None

        await eventually(marked_left)
        await h.advance(timedelta(hours=1))  # the next upkeep round
    assert list(root.glob(f"{GUILD_B}.sqlite3*")) == [], await _entry(root, GUILD_B)
    assert await _receipts(root) == [(GUILD_B, "retention")]


async def test_the_purge_leaves_no_name_of_the_purged_guild_in_the_registry(tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    async with running_bot(root, guilds=[], settings=Settings(retention_days=0)) as h:
        await h.add_bot_to_guild(GUILD_A, name="Secret Readers Club")
        await give_a_file(h, GUILD_A)
        await h.remove_bot_from_guild(GUILD_A)
        await eventually(lambda: _gone(root / f"{GUILD_A}.sqlite3"))
    entry = await _entry(root, GUILD_A)
    assert entry is not None and entry.left_at is not None and entry.purge_after is None
    assert entry.name is None


async def _gone(path: Path) -> bool:
    return not path.exists()
