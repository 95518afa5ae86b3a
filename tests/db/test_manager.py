from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.manager import LIVE_SLACK
from app.db.slots import POLICIES, Slot
from app.errors import InvalidGuildIdError, ManagerClosedError

pytestmark = pytest.mark.asyncio


async def _add_xp(manager: GuildDatabaseManager, guild_id: int, member: int, amount: int) -> None:
    async with manager.connect(guild_id) as db, db.transaction():
        await db.execute(
            "INSERT INTO user_xp (discord_id, xp) VALUES (?, ?) "
            "ON CONFLICT (discord_id) DO UPDATE SET xp = xp + excluded.xp", (member, amount))


async def _xp(manager: GuildDatabaseManager, guild_id: int) -> dict[int, int]:
    async with manager.connect(guild_id) as db:
        return {r["discord_id"]: r["xp"] for r in await db.execute_fetchall("SELECT * FROM user_xp")}


async def test_the_first_write_builds_the_file_and_records_its_guild(manager: GuildDatabaseManager) -> None:
    async with manager.connect(42) as db:
        await _add_xp(manager, 42, member=1, amount=1)
        (row,) = await db.execute_fetchall("SELECT guild_id, schema_version FROM guild_meta")
    assert tuple(row) == (42, 3)
    assert manager.path_for(42).is_file()
    assert manager.stats().creates == 1


async def test_each_guild_reads_back_only_its_own_writes(manager: GuildDatabaseManager) -> None:
    for guild_id in range(1, 6):
        await _add_xp(manager, guild_id, member=guild_id * 100, amount=guild_id)
    for guild_id in range(1, 6):
        assert await _xp(manager, guild_id) == {guild_id * 100: guild_id}


@pytest.mark.parametrize("bad", ["123", True, -1, 0, 2**63, "../x", 1.0, None])
async def test_invalid_guild_ids_raise_and_create_nothing(tmp_path: Path, bad: object) -> None:
    root = tmp_path / "guild_dbs"
    manager = GuildDatabaseManager(root, max_open=2)
    with pytest.raises(InvalidGuildIdError):
        async with manager.connect(bad):  # type: ignore[arg-type]
            pass
    await manager.close_all()
    assert not root.exists() or list(root.iterdir()) == []


@pytest.mark.parametrize("policy", POLICIES)
async def test_evicted_connection_stays_open_until_released(tmp_path: Path, policy: str) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=1, policy=policy)
    async with manager.connect(1) as first:
        async with manager.connect(2):  # evicts guild 1 while it is leased
            pass
        assert manager.stats().evictions >= 1
        await first.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 5)")  # still usable
        assert [tuple(r) for r in await first.execute_fetchall("SELECT xp FROM user_xp")] == [(5,)]
        assert manager.is_open(1)
    async with asyncio.timeout(10):  # closed in the background, on a thread: slower than 50 ms under load
        while manager.is_open(1):
            await asyncio.sleep(0.001)
    await manager.close_all()


async def test_transaction_rolls_back_on_error(manager: GuildDatabaseManager) -> None:
    async with manager.connect(7) as db:
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 5)")
                raise RuntimeError("boom")
        rows = await db.execute_fetchall("SELECT * FROM user_xp")
    assert rows == []


async def test_statements_of_other_tasks_do_not_see_an_open_transaction(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=4)
    async with manager.connect(9) as db:
        inside, release = asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            async with db.transaction():
                await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 5)")
                inside.set()
                await release.wait()
                raise RuntimeError("rolled back")

        task = asyncio.create_task(writer())
        await inside.wait()
        read = asyncio.create_task(db.execute_fetchall("SELECT * FROM user_xp"))
        await asyncio.sleep(0.02)
        assert not read.done()  # waits for the transaction instead of reading its uncommitted row
        release.set()
        with pytest.raises(RuntimeError):
            await task
        rows = await read
    assert rows == []
    await manager.close_all()


def _refuse_a_second_connection(manager: GuildDatabaseManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the manager opens a guild that still has a connection (cached, evicted or closing)."""
    open_slot = manager._open_slot

    def checked(guild_id: int) -> Slot:
        assert not manager.is_open(guild_id), f"a second connection to guild {guild_id}'s file"
        return open_slot(guild_id)

    monkeypatch.setattr(manager, "_open_slot", checked)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("max_open", [1, 2, 64])
async def test_concurrent_transactions_under_eviction_lose_nothing(tmp_path: Path, max_open: int, policy: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = threading.active_count()
    manager = GuildDatabaseManager(tmp_path, max_open=max_open, policy=policy)
    _refuse_a_second_connection(manager, monkeypatch)
    guilds, rounds = 200, 12
    jobs = [_add_xp(manager, g, member=g % 7, amount=1) for _ in range(rounds) for g in range(1, guilds + 1)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    totals = {g: await _xp(manager, g) for g in range(1, guilds + 1)}
    assert all(totals[g] == {g % 7: rounds} for g in totals)
    assert manager.stats().peak_open <= max_open + LIVE_SLACK  # evicted ones may still be closing
    assert manager.stats().evictions >= (1 if max_open < guilds else 0)
    await manager.close_all()
    assert manager.stats().open_now == 0
    assert threading.active_count() == baseline


@pytest.mark.parametrize("policy", POLICIES)
async def test_cancelled_callers_leave_no_connection_behind(tmp_path: Path, policy: str) -> None:
    baseline = threading.active_count()
    manager = GuildDatabaseManager(tmp_path, max_open=2, policy=policy)
    tasks = [asyncio.create_task(_add_xp(manager, g, 1, 1)) for g in range(1, 30)]
    await asyncio.sleep(0.005)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await manager.close_all()
    assert manager.stats().open_now == 0
    assert threading.active_count() == baseline


async def test_exclusive_waits_for_leases_and_blocks_new_ones(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=4)
    order: list[str] = []
    async with manager.connect(5) as db:
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)")

        async def hold() -> None:
            async with manager.exclusive(5):
                order.append("exclusive")
                assert not manager.is_open(5)
                await asyncio.sleep(0.02)
                order.append("exclusive done")

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.01)
        order.append("lease released")
    await asyncio.sleep(0)

    async def late() -> None:
        async with manager.connect(5):
            order.append("late lease")

    await asyncio.gather(holder, late())
    assert order == ["lease released", "exclusive", "exclusive done", "late lease"]
    await manager.close_all()


async def test_closed_manager_refuses_new_leases(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    await manager.close_all()
    with pytest.raises(ManagerClosedError):
        async with manager.connect(1):
            pass


async def test_bot_wide_file_is_never_listed_as_a_guild(manager: GuildDatabaseManager) -> None:
    async with manager.connect_bot() as bot_db:
        (row,) = await bot_db.execute_fetchall("SELECT kind FROM bot_meta")
    await _add_xp(manager, 3, member=1, amount=1)
    assert row["kind"] == "bot-wide"
    assert manager.bot_path.is_file()
    assert manager.guild_ids_on_disk() == [3]


async def test_settings_are_applied_to_every_connection(manager: GuildDatabaseManager) -> None:
    async with manager.connect(11) as db:
        pragmas = {p: (await db.execute_fetchall(f"PRAGMA {p}"))[0][0]
                   for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "secure_delete")}
    # busy_timeout 0: lock waits are retried from the event loop, never slept on the shared thread
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 0,
                       "secure_delete": 1}


async def test_foreign_keys_are_enforced(manager: GuildDatabaseManager) -> None:
    async with manager.connect(12) as db:
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("INSERT INTO recommendation_feedback VALUES (999, 1, 1)")
