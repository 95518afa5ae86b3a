"""The bot's own command budget: token buckets per member and per guild, in memory, on the bot's clock.

Discord's REST limits are hikari's business; this budget keeps one member (or one busy server) from
taking the bot's time from everyone else. It is checked before any database or network work.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import cachetools

_RATE = re.compile(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*(s|m|h)\s*")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
MAX_BUCKETS = 65_536  # members idle longest lose their bucket first (and get a full one back)


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` commands per `per_s` seconds, refilled continuously."""

    count: int
    per_s: int

    def __str__(self) -> str:
        return f"{self.count}/{self.per_s}s"


DEFAULT_RATE_MEMBER = Rate(5, 10)
DEFAULT_RATE_GUILD = Rate(60, 10)
UNLIMITED = Rate(10**9, 1)  # the benchmarks, the sandbox and the test harness (scripts outpace any person)


def parse_rate(text: str) -> Rate:
    """`5/10s`, `60/1m`, `100/1h`.

    Raises:
        ValueError: not of that form, or a zero count or period.
    """
    match = _RATE.fullmatch(text)
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        raise ValueError(text)
    return Rate(int(match[1]), int(match[2]) * _UNIT_S[match[3]])


@dataclass(frozen=True, slots=True)
class Refusal:
    scope: str  # "member" or "guild"
    retry_after_s: float

    @property
    def message(self) -> str:
        seconds = max(1, math.ceil(self.retry_after_s))
        when = f"in {seconds} second{'s' if seconds != 1 else ''}"
        if self.scope == "member":
            return f"You are using commands faster than the bot allows; try again {when}."
        return f"This server is using the bot's commands faster than it allows; try again {when}."


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp

    def refill(self, rate: Rate, now: float) -> None:
        self.tokens = min(float(rate.count), self.tokens + (now - self.stamp) * rate.count / rate.per_s)
        self.stamp = now

    def wait_s(self, rate: Rate) -> float:
        return (1.0 - self.tokens) * rate.per_s / rate.count


class CommandBudget:
    """`take(guild_id, user_id)` spends one command of both budgets, or says which one is empty."""

    def __init__(self, member: Rate, guild: Rate, now: Callable[[], float]) -> None:
        self.member = member
        self.guild = guild
        self._now = now
        self._members: cachetools.LRUCache[Hashable, _Bucket] = cachetools.LRUCache(MAX_BUCKETS)
        self._guilds: cachetools.LRUCache[Hashable, _Bucket] = cachetools.LRUCache(MAX_BUCKETS)

    def _bucket(self, buckets: cachetools.LRUCache[Hashable, _Bucket], key: int, rate: Rate,
                now: float) -> _Bucket:
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(float(rate.count), now)
        else:
            bucket.refill(rate, now)
        return bucket

    def take(self, guild_id: int, user_id: int) -> Refusal | None:
        """None if the command may run (one token spent from each budget); a refusal spends nothing."""
        now = self._now()
        member = self._bucket(self._members, user_id, self.member, now)
        guild = self._bucket(self._guilds, guild_id, self.guild, now)
        if member.tokens < 1:
            return Refusal("member", member.wait_s(self.member))
        if guild.tokens < 1:
            return Refusal("guild", guild.wait_s(self.guild))
        member.tokens -= 1
        guild.tokens -= 1
        return None
