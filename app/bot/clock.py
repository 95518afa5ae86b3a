"""The bot's one clock: the real time, plus what the sandbox advanced (`clock +2d` runs the purge due then).

Scheduled work runs through `clock.repeat()` (or sleeps with `clock.sleep()`, or is called back with
`clock.call_later()`), so an advance wakes whatever fell due; `settle()` waits until that work is done and
asleep again.
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
        self._timers: set[Timer] = set()  # `call_later` callbacks not yet called or cancelled
        self._working: set[asyncio.Future[object]] = set()  # work the timers started, until it ends

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

    async def repeat(self, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        """Run `work` now and then every `seconds` on this clock, until cancelled."""
        while True:
            self._busy += 1  # no await between waking up and this: settle() never misses a round
            try:
                await work()
            finally:
                self._busy -= 1
            await self.sleep(seconds)

    def call_later(self, seconds: float, work: Callable[[], Awaitable[object]]) -> Timer:
        """Start `work()` as a task once `seconds` have passed on this clock, unless the timer is cancelled first.

        A loop timer underneath (cheap enough for every interaction); an advance starts the ones it made due,
        in the order they fell due, and `started_work()` waits for what they started.
        """
        loop = asyncio.get_running_loop()
        timer = Timer(self, loop.time() + self.offset.total_seconds() + seconds, work)  # loop's clock, advanced
        timer.handle = loop.call_later(seconds, timer.fire)
        self._timers.add(timer)
        return timer

    def advance(self, delta: timedelta) -> None:
        """Move time forward; sleepers and timers that fall due wake up."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        loop = asyncio.get_running_loop() if self._timers else None  # (raises before anything moved)
        self.offset += delta
        self._tick.set()
        self._tick = asyncio.Event()
        if loop is not None:
            now = loop.time() + self.offset.total_seconds()
            for timer in sorted((t for t in self._timers if t.due <= now), key=lambda t: t.due):
                timer.fire()

    def _start(self, work: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.ensure_future(work())
        self._working.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[object]) -> None:
        self._working.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            asyncio.get_running_loop().call_exception_handler(
                {"message": "work started by a Clock timer failed", "exception": error, "future": task})

    async def started_work(self, *, timeout: float = 30.0) -> None:
        """Wait until the work timers started (by an advance or in real time) has finished."""
        if self._working:
            _, pending = await asyncio.wait(self._working, timeout=timeout)  # a timeout cancels none of it
            if pending:
                raise TimeoutError(f"{len(pending)} timer tasks still running after {timeout} s")

    async def settle(self, *, timeout: float = 30.0, every: float = 0.01) -> None:
        """Wait until nothing is due: the work an advance woke has run and gone back to sleep (or ended)."""
        async with asyncio.timeout(timeout):
            while self._busy or self._working or any(due <= self.now() for due in self._sleepers.values()):
                await asyncio.sleep(every)


class Timer:
    """One `Clock.call_later`: `cancel()` before it fires and its work never starts."""

    __slots__ = ("_clock", "_work", "due", "handle")

    def __init__(self, clock: Clock, due: float, work: Callable[[], Awaitable[object]]) -> None:
        self._clock, self.due, self._work = clock, due, work
        self.handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self._clock._timers.discard(self)

    def fire(self) -> None:
        """Start the work once: at the loop's timer or at an advance, whichever comes first."""
        if self in self._clock._timers:
            self.cancel()
            self._clock._start(self._work)
