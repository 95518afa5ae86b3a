"""Which connection goes when the manager is full: by policy (the default "lru": the least recently used;
"lfu"; "tinylfu": a newcomer enters a small window and stays only if used more often than the victim)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.limits import LIVE_SLACK
from app.db.slots import POLICIES
from tests.db.helpers import build_guild_file

OFTEN, LATELY, NEW = 1, 2, 3


async def _use(manager: GuildDatabaseManager, guild_id: int) -> bool:
    """Lease and release the guild's connection; True if it was already open (a cache hit)."""
    hits = manager.stats().hits
    async with manager.connect(guild_id):
        pass
    return manager.stats().hits == hits + 1


async def _after_often_then_lately_then_new(manager: GuildDatabaseManager) -> dict[int, bool]:
    for _ in range(5):
        await _use(manager, OFTEN)  # used most often, but longest ago
    await _use(manager, LATELY)  # used once, most recently
    await _use(manager, NEW)  # the manager is full: one of the two goes
    return {guild_id: await _use(manager, guild_id) for guild_id in (LATELY, OFTEN)}


@pytest.mark.asyncio
async def test_the_least_recently_used_goes_first_not_the_least_frequently(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager:  # the default policy: the contract
        still_open = await _after_often_then_lately_then_new(manager)
        evictions = manager.stats().evictions
    assert still_open == {LATELY: True, OFTEN: False}
    assert evictions == 2  # OFTEN for NEW, then NEW for OFTEN again


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", POLICIES)
async def test_an_evicted_idle_connection_is_closed(tmp_path: Path, policy: str) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=1, policy=policy) as manager:
        await _use(manager, OFTEN)
        await _use(manager, LATELY)  # evicts OFTEN, idle: closed at once, in the background
        async with asyncio.timeout(10):  # a close on a thread: well under 2 s, unless the machine is loaded
            while manager.is_open(OFTEN):
                await asyncio.sleep(0.01)
        closed, open_now = not manager.is_open(OFTEN), manager.stats().open_now
    assert closed and open_now == 1


@pytest.mark.asyncio
async def test_the_lfu_policy_kept_for_the_benchmark_is_told_apart_by_the_same_sequence(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, policy="lfu") as manager:
        still_open = await _after_often_then_lately_then_new(manager)
    assert still_open == {LATELY: False, OFTEN: True}


@pytest.mark.asyncio
async def test_a_hit_makes_a_guild_recent_again(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager:
        for guild_id in (1, 2, 1, 3):  # the hit on 1 makes 2 the least recently used
            await _use(manager, guild_id)
        assert (await _use(manager, 1), await _use(manager, 2)) == (True, False)


@pytest.mark.asyncio
@pytest.mark.parametrize("max_open", [1, 2, 3])
async def test_at_most_max_open_connections_are_kept(tmp_path: Path, max_open: int) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=max_open, policy="lru") as manager:
        for guild_id in range(1, 6):
            await _use(manager, guild_id)
        evictions = manager.stats().evictions
        kept = [await _use(manager, guild_id) for guild_id in range(5, 5 - max_open, -1)]  # newest first
        older = await _use(manager, 5 - max_open)
    assert evictions == 5 - max_open
    assert kept == [True] * max_open and older is False


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", POLICIES)
async def test_an_evicted_connection_still_in_use_comes_back_without_reopening(tmp_path: Path, policy: str) -> None:
    for guild_id in (OFTEN, LATELY):
        build_guild_file(tmp_path, guild_id)  # opens of files are counted (a guild only read has none)
    async with GuildDatabaseManager(tmp_path, max_open=1, policy=policy) as manager:
        async with manager.connect(OFTEN) as first:
            await _use(manager, LATELY)  # evicts OFTEN while this task still holds it
            async with asyncio.timeout(5), manager.connect(OFTEN) as again:  # waiting for its close would hang
                same = again is first
        opens = manager.stats().opens
    assert same and opens == 2


@pytest.mark.asyncio
async def test_tinylfu_keeps_the_often_used_guild_and_refuses_the_newcomer(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, policy="tinylfu") as manager:
        still_open = await _after_often_then_lately_then_new(manager)
        evictions = manager.stats().evictions
    assert still_open == {LATELY: False, OFTEN: True}
    assert evictions == 2  # LATELY refused for NEW, then NEW refused for LATELY again


async def _working_set_then_scan(manager: GuildDatabaseManager, working: range, scan: range) -> list[bool]:
    for _ in range(4):
        for guild_id in working:
            await _use(manager, guild_id)
    for guild_id in scan:  # one-off guilds: a burst of servers seen once
        await _use(manager, guild_id)
    return [await _use(manager, guild_id) for guild_id in working]


@pytest.mark.asyncio
@pytest.mark.parametrize(("policy", "kept"), [("tinylfu", True), ("lru", False)])
async def test_a_scan_of_one_off_guilds_keeps_the_busy_ones_open_with_tinylfu(
        tmp_path: Path, policy: str, kept: bool) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8, policy=policy) as manager:
        hits = await _working_set_then_scan(manager, range(1, 7), range(100, 140))
        peak, open_now = manager.stats().peak_open, manager.stats().open_now
    assert hits == [kept] * 6
    assert open_now <= 8 + LIVE_SLACK and peak <= 8 + LIVE_SLACK


@pytest.mark.asyncio
async def test_a_guild_refused_admission_is_still_served_and_then_closed(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=4, policy="tinylfu") as manager:
        newcomer = 50
        await _working_set_then_scan(manager, range(1, 5), range(0))
        async with manager.connect(newcomer) as db, db.transaction():
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 5)")
        await _use(manager, 99)  # pushes the newcomer out of the window: rarer than every busy guild, refused
        async with asyncio.timeout(10):  # closed in the background, on a thread (slow on a loaded machine)
            while manager.is_open(newcomer):
                await asyncio.sleep(0.01)
        refused = not manager.is_open(newcomer)
        busy_hits = [await _use(manager, guild_id) for guild_id in range(1, 4)]
        async with manager.connect(newcomer) as db:
            rows = [tuple(r) for r in await db.execute_fetchall("SELECT discord_id, xp FROM user_xp")]
    assert refused and rows == [(1, 5)]
    assert busy_hits == [True] * 3
