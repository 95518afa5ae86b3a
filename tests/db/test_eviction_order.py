"""Which connection goes when the manager is full: the least *recently* used, not the least frequently."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
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
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager:
        still_open = await _after_often_then_lately_then_new(manager)
        evictions = manager.stats().evictions
    assert still_open == {LATELY: True, OFTEN: False}
    assert evictions == 2  # OFTEN for NEW, then NEW for OFTEN again


@pytest.mark.asyncio
async def test_an_evicted_idle_connection_is_closed(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=1) as manager:
        await _use(manager, OFTEN)
        await _use(manager, LATELY)  # evicts OFTEN, idle: closed at once, in the background
        for _ in range(200):  # at most ~2 s
            if not manager.is_open(OFTEN):
                break
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
    async with GuildDatabaseManager(tmp_path, max_open=max_open) as manager:
        for guild_id in range(1, 6):
            await _use(manager, guild_id)
        evictions = manager.stats().evictions
        kept = [await _use(manager, guild_id) for guild_id in range(5, 5 - max_open, -1)]  # newest first
        older = await _use(manager, 5 - max_open)
    assert evictions == 5 - max_open
    assert kept == [True] * max_open and older is False


@pytest.mark.asyncio
async def test_an_evicted_connection_still_in_use_comes_back_without_reopening(tmp_path: Path) -> None:
    for guild_id in (OFTEN, LATELY):
        build_guild_file(tmp_path, guild_id)  # opens of files are counted (a guild only read has none)
    async with GuildDatabaseManager(tmp_path, max_open=1) as manager:
        async with manager.connect(OFTEN) as first:
            await _use(manager, LATELY)  # evicts OFTEN while this task still holds it
            async with asyncio.timeout(5), manager.connect(OFTEN) as again:  # waiting for its close would hang
                same = again is first
        opens = manager.stats().opens
    assert same and opens == 2
