"""Per-guild cooldowns for heavy or destructive requests (kept in memory: a restart forgets them)."""
from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager

import cachetools

from app.errors import RateLimitedError


class Cooldown:
    """At most one `hit` per key every `seconds`; entries expire on their own."""

    def __init__(self, seconds: float, *, what: str, maxsize: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.what = what
        self._clock = clock
        self._last: cachetools.TTLCache[Hashable, float] = cachetools.TTLCache(maxsize, seconds, timer=clock)

    def remaining(self, key: Hashable) -> float:
        """Seconds until `key` may go again (0 when it may)."""
        last = self._last.get(key)
        return 0.0 if last is None else max(0.0, last + self.seconds - self._clock())

    def check(self, key: Hashable) -> None:
        """Raises:
        RateLimitedError: `key` went less than `seconds` ago; the message says when to retry.
        """
        left = self.remaining(key)
        if left > 0:
            minutes = math.ceil(left / 60)
            raise RateLimitedError(f"{self.what} was done in this server a moment ago; try again in "
                                   f"{minutes} minute{'s' if minutes != 1 else ''}.")

    def hit(self, key: Hashable) -> None:
        self._last[key] = self._clock()

    def clear(self, key: Hashable) -> None:
        self._last.pop(key, None)

    @asynccontextmanager
    async def claim(self, key: Hashable) -> AsyncIterator[None]:
        """Check and record `key` at once, before the work (concurrent requests are refused);
        a failed attempt does not count.

        Raises:
            RateLimitedError: `key` went less than `seconds` ago.
        """
        self.check(key)
        self.hit(key)
        try:
            yield
        except BaseException:
            self.clear(key)
            raise
