"""The bot's one clock: the real time, plus what the sandbox advanced (`clock +2d` runs the purge due then).

Scheduled work runs through `clock.repeat()` (or sleeps with `clock.sleep()`), so an advance wakes
whatever fell due; `settle()` waits until that work is done and asleep again.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta


class Clock:
    """`now()` is timezone-aware UTC; `advance()` moves it forward for every reader at once."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._tick = asyncio.Event()
        self._sleepers: dict[int, datetime] = {}  # sleeping now → when each is due
        self._ids = itertools.count()
        self._busy = 0  # rounds of `repeat` running now

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    async def sleep(self, seconds: float) -> None:
        """Sleep until `seconds` have passed on this clock (real time or advanced)."""
        due = self.now() + timedelta(seconds=seconds)
        token = next(self._ids)
        self._sleepers[token] = due
        try:
            while (left := (due - self.now()).total_seconds()) > 0:
                tick = self._tick
                with contextlib.suppress(TimeoutError):  # the time came, or an advance woke us: look again
                    await asyncio.wait_for(tick.wait(), left)
        finally:
            del self._sleepers[token]

    async def repeat(self, seconds: float, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` now and then every `seconds` on this clock, until cancelled."""
        while True:
            self._busy += 1  # no await between waking up and this: settle() never misses a round
            try:
                await work()
            finally:
                self._busy -= 1
            await self.sleep(seconds)

    def advance(self, delta: timedelta) -> None:
        """Move time forward; sleepers that fall due wake up."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self.offset += delta
        self._tick.set()
        self._tick = asyncio.Event()

    async def settle(self, *, timeout: float = 30.0, every: float = 0.01) -> None:
        """Wait until nothing is due: the work an advance woke has run and gone back to sleep (or ended)."""
        async with asyncio.timeout(timeout):
            while self._busy or any(due <= self.now() for due in self._sleepers.values()):
                await asyncio.sleep(every)
