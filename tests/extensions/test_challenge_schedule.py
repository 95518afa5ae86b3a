"""The challenge scheduler reads servers' next ends one at a time: a start-up never floods the file opener."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from app.bot.clock import Clock
from app.bot.di import EventGuildDb
from app.extensions import _challenge_schedule
from app.extensions._challenge_schedule import ChallengeScheduler


class CountingGuildDbs:
    """Every server has a file; counts how many are open at once."""

    def __init__(self) -> None:
        self.open_now = 0
        self.most_open = 0
        self.read: list[int] = []

    def has_file(self, guild_id: int) -> bool:
        return True

    @contextlib.asynccontextmanager
    async def for_scheduled(self, guild_id: int) -> AsyncIterator[object]:
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await asyncio.sleep(0.001)  # the open, on the file-opening thread
            self.read.append(guild_id)
            yield object()
        finally:
            self.open_now -= 1


@pytest.mark.asyncio
async def test_servers_becoming_available_together_are_read_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_challenge(_: Any) -> None:
        return None

    monkeypatch.setattr(_challenge_schedule.ch, "next_end", no_challenge)
    dbs = CountingGuildDbs()
    scheduler = ChallengeScheduler(cast(Any, None), cast(EventGuildDb, dbs), Clock())
    await asyncio.gather(*(scheduler.watch(guild_id) for guild_id in range(200)))  # a start-up
    async with asyncio.timeout(10):
        while len(dbs.read) < 200:
            await asyncio.sleep(0.01)
    await scheduler.close()
    assert dbs.most_open == 1
    assert dbs.read == list(range(200))
