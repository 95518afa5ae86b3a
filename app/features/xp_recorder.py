"""The XP cooldown and the messages waiting to be written: memory only, so counting a message costs
no database access (and no await) at all.

Counted messages are summed per guild and member until the writer takes them: under load one
transaction per guild carries many members' messages, which is what keeps XP, the bot's hottest
write path, cheap. The writer reads the server's settings in that same transaction (XP per message)
and hands them back here (`remember_config`) for the cooldown; until a server's first write after
the bot starts, its messages are judged by the bot's default cooldown (XP_COOLDOWN_SECONDS).
"""
from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cachetools

from app.features.guild_settings import GuildSettings

MAX_CACHED_GUILDS = 10_000
FORGOTTEN_KEPT = 10_000  # erasures remembered for writes already under way (they last seconds)
PRUNE_FLOOR = 50_000  # cooldown entries kept before the first sweep of expired ones


@dataclass(slots=True)
class PendingGuild:
    """One guild's gains not yet written; `source` (its latest message event) is how the writer opens its file."""

    source: Any
    gains: dict[int, int] = field(default_factory=dict)  # member → messages counted (XP = count × amount)
    channels: dict[int, int] = field(default_factory=dict)  # member → channel of their last counted message
    event_times: list[float] = field(default_factory=list)  # wall-clock times of the counted messages
    attempts: int = 0

    def merge(self, other: PendingGuild) -> None:
        for user_id, amount in other.gains.items():
            self.gains[user_id] = self.gains.get(user_id, 0) + amount
        self.channels = {**self.channels, **other.channels}
        self.event_times.extend(other.event_times)
        self.attempts = max(self.attempts, other.attempts)


class XpRecorder:
    """Per-member cooldowns, per-guild settings cache, and the buffer of gains (no I/O here)."""

    def __init__(self, default_cooldown: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.default_cooldown = default_cooldown
        self._clock = clock
        self._configs: cachetools.LRUCache[int, GuildSettings] = cachetools.LRUCache(MAX_CACHED_GUILDS)
        self._last: dict[tuple[int, int], float] = {}
        self._prune_at = PRUNE_FLOOR
        self.pending: dict[int, PendingGuild] = {}
        self._forgotten: collections.deque[tuple[int, int, int | None]] = collections.deque(maxlen=FORGOTTEN_KEPT)
        self._generation = 0  # advanced by every take() and forget()

    # -- settings cache ------------------------------------------------------
    def config(self, guild_id: int) -> GuildSettings | None:
        return self._configs.get(guild_id)

    def remember_config(self, guild_id: int, settings: GuildSettings) -> None:
        self._configs[guild_id] = settings

    # -- cooldown ------------------------------------------------------------
    def _cooldown(self, guild_id: int) -> int:
        config = self._configs.get(guild_id)
        return self.default_cooldown if config is None else config.cooldown(self.default_cooldown)

    def count(self, guild_id: int, user_id: int, *, channel_id: int, event_time: float, source: Any) -> bool:
        """Count a message unless it is inside the member's cooldown here; synchronous, never two at once."""
        now = self._clock()
        key = (guild_id, user_id)
        last = self._last.get(key)
        if last is not None and now - last < self._cooldown(guild_id):
            return False
        self._last[key] = now
        pending = self.pending.get(guild_id)
        if pending is None:
            pending = self.pending[guild_id] = PendingGuild(source)
        pending.source = source
        pending.gains[user_id] = pending.gains.get(user_id, 0) + 1
        pending.channels[user_id] = channel_id
        pending.event_times.append(event_time)
        if len(self._last) >= self._prune_at:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        """Forget cooldowns that are over (an entry past its cooldown and one never seen behave alike)."""
        for (guild_id, user_id), last in list(self._last.items()):
            if now - last >= self._cooldown(guild_id):
                del self._last[(guild_id, user_id)]
        self._prune_at = max(PRUNE_FLOOR, 2 * len(self._last))

    # -- the writer's side -----------------------------------------------------
    def take(self) -> tuple[dict[int, PendingGuild], int]:
        """Everything pending and the generation it was taken at; new gains start a fresh buffer."""
        taken, self.pending = self.pending, {}
        self._generation += 1
        return taken, self._generation

    # -- erasure -------------------------------------------------------------
    def forget(self, guild_id: int, user_id: int | None = None) -> None:
        """Drop the member's (or the whole guild's) pending gains, including those already taken."""
        self._generation += 1
        self._forgotten.append((self._generation, guild_id, user_id))
        pending = self.pending.get(guild_id)
        if pending is None:
            return
        if user_id is None:
            del self.pending[guild_id]
        else:
            pending.gains.pop(user_id, None)
            pending.channels.pop(user_id, None)

    def still_wanted(self, guild_id: int, pending: PendingGuild, taken_at: int) -> bool:
        """Remove gains forgotten since `taken_at` from `pending`; False if nothing of it may be written."""
        for generation, forgotten_guild, user_id in self._forgotten:
            if generation <= taken_at or forgotten_guild != guild_id:
                continue
            if user_id is None:
                return False
            pending.gains.pop(user_id, None)
        return bool(pending.gains)

    def give_back(self, guild_id: int, pending: PendingGuild, taken_at: int) -> None:
        """A write failed: its gains go back in front of whatever arrived meanwhile (unless forgotten)."""
        if not self.still_wanted(guild_id, pending, taken_at):
            return
        pending.attempts += 1
        newer = self.pending.get(guild_id)
        if newer is not None:
            pending.source = newer.source
            pending.merge(newer)
        self.pending[guild_id] = pending
