"""The tracker's worker without Discord: fetches are shared by the joins that wait, one worker per server."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.features.invite_snapshot import NO_PERMISSION, InviteCount, Snapshot
from app.features.invite_tracker import Batch, InvitesForbidden, InviteTracker, Join

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeDiscord:
    def __init__(self) -> None:
        self.uses = 0
        self.fetches = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.forbidden = False
        self.batches: list[Batch] = []

    async def fetch(self, guild_id: int) -> Snapshot:
        self.fetches += 1
        await self.gate.wait()
        if self.forbidden:
            raise InvitesForbidden("no")
        return {"abc": InviteCount("abc", 5, self.uses)}

    async def deliver(self, batch: Batch) -> None:
        self.batches.append(batch)


async def _settle(tracker: InviteTracker, guild_id: int) -> None:
    async with asyncio.timeout(5):
        await tracker.settled(guild_id)


@pytest.mark.asyncio
async def test_joins_waiting_for_a_fetch_share_the_next_one() -> None:
    discord = FakeDiscord()
    tracker = InviteTracker(discord.fetch, discord.deliver, lambda: NOW, min_gap=0)
    tracker.refresh(1, "event")
    await _settle(tracker, 1)
    discord.gate.clear()  # Discord is slow: every join below arrives while the first fetch runs
    for user_id in range(50):
        discord.uses += 1
        tracker.member_joined(1, Join(user_id, NOW, "event"))
        await asyncio.sleep(0)
    discord.gate.set()
    await _settle(tracker, 1)
    assert discord.fetches == 3  # the snapshot, the first join's, one for the 49 that waited
    joined = [b for b in discord.batches if b.joins]
    assert [len(b.joins) for b in joined] == [1, 49]
    # the first fetch saw all 50 uses for one join: unknown; the 49 then saw no rise: unknown too
    assert all(b.verdict.invite is None for b in joined)
    assert sum(len(b.joins) for b in joined) == 50


@pytest.mark.asyncio
async def test_without_permission_one_fetch_then_none_until_the_retry_time() -> None:
    discord = FakeDiscord()
    discord.forbidden = True
    tracker = InviteTracker(discord.fetch, discord.deliver, lambda: NOW, min_gap=0)
    tracker.refresh(1, "event")
    await _settle(tracker, 1)
    for user_id in range(3):
        tracker.member_joined(1, Join(user_id, NOW, "event"))
        await _settle(tracker, 1)
    assert discord.fetches == 1
    assert [b.verdict.reason for b in discord.batches if b.joins] == [NO_PERMISSION] * 3
    assert all(b.forbidden for b in discord.batches)


@pytest.mark.asyncio
async def test_an_invite_one_use_from_its_limit_stays_when_deleted_others_go() -> None:
    discord = FakeDiscord()
    tracker = InviteTracker(discord.fetch, discord.deliver, lambda: NOW, min_gap=0)
    tracker.refresh(1, "event")
    await _settle(tracker, 1)
    tracker.invite_created(1, InviteCount("once", 5, 0, max_uses=1))
    tracker.invite_created(1, InviteCount("manual", 5, 0))
    tracker.invite_deleted(1, "once")
    tracker.invite_deleted(1, "manual")
    assert set(tracker.snapshot(1) or {}) == {"abc", "once"}


@pytest.mark.asyncio
async def test_closing_drops_re_reads_at_once_and_bounds_rounds_with_joins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.features.invite_tracker.CLOSE_GRACE_S", 0.2)
    discord = FakeDiscord()
    discord.gate.clear()  # Discord never answers (rate limited, or gone at shutdown)
    tracker = InviteTracker(discord.fetch, discord.deliver, lambda: NOW, min_gap=0)
    for guild_id in range(1, 201):
        tracker.refresh(guild_id, source=object())  # start-up re-reads
    tracker.member_joined(7, Join(99, NOW, object()))
    await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        await tracker.close()
    assert loop.time() - started < 2  # not 200 re-reads' worth of waiting
    assert all(s.task is None or s.task.done() for s in tracker._guilds.values())


@pytest.mark.asyncio
async def test_re_reads_are_paced_and_a_join_in_a_server_with_its_snapshot_does_not_wait_for_them() -> None:
    discord = FakeDiscord()
    tracker = InviteTracker(discord.fetch, discord.deliver, lambda: NOW, min_gap=0, refresh_rate=20)
    tracker.refresh(1, "event")
    await _settle(tracker, 1)
    began = asyncio.get_running_loop().time()
    for guild_id in range(2, 22):  # a start-up: 20 servers to re-read, one second at 20 a second
        tracker.refresh(guild_id, "event")
    tracker.member_joined(1, Join(7, NOW, "event"))
    await _settle(tracker, 1)
    assert discord.fetches < 5  # the join's fetch went before most re-reads
    for guild_id in range(2, 22):
        await _settle(tracker, guild_id)
    assert discord.fetches == 22
    assert asyncio.get_running_loop().time() - began >= 0.9
