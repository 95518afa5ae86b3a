"""The invite snapshot of every server and the one worker per server that turns joins into verdicts.

Joins of a server are handled one batch at a time: while the invite list is being fetched, later joins
wait and share the next fetch, and two fetches of one server are at least `min_gap` seconds apart. A
raid of hundreds of joins therefore costs a handful of fetches, never one per join (the REST client
also honours Discord's rate-limit headers). Without Manage Server the list cannot be read: the worker
stops trying for `forbidden_retry` and every join is recorded as unknown. No Discord types here: the
extension passes a `fetch` (raising `InvitesForbidden`) and a `deliver` callback.

A re-read without joins (every server at start-up) waits for its turn at `refresh_rate` a second:
thousands of servers read at once would meet Discord's global limit (50 calls a second per bot)
with hundreds of thousands of 429s, and 10,000 in 10 minutes get the bot banned for an hour.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.errors import BotError
from app.features.invite_snapshot import (
    NO_PERMISSION,
    NO_SNAPSHOT,
    UNREADABLE,
    InviteCount,
    Snapshot,
    Verdict,
    attribute,
)

log = logging.getLogger(__name__)

MIN_GAP_S = 0.25
FORBIDDEN_RETRY = timedelta(minutes=10)
REFRESH_RATE_PER_S = 25.0  # the whole bot's re-reads: half of Discord's global limit, the rest for everything else


class InvitesForbidden(BotError):
    """The bot may not read the server's invites with their counts (no Manage Server)."""


@dataclass(frozen=True, slots=True)
class Join:
    """A member's arrival as the listener saw it; `source` opens that server's file (the event)."""

    user_id: int
    joined_at: datetime
    source: Any
    had_snapshot: bool = True
    generation: int = 0  # the bot's erasure count when the join was seen (`Forgetting.generation`)


@dataclass(frozen=True, slots=True)
class Batch:
    guild_id: int
    joins: list[Join]
    verdict: Verdict
    snapshot: Snapshot | None  # the fresh list, when it could be read
    source: Any  # opens the server's file (an event of that server)
    forbidden: bool = False


CLOSE_GRACE_S = 5  # at shutdown, how long rounds with joins may still wait for Discord

Fetch = Callable[[int], Awaitable[Snapshot]]
Deliver = Callable[[Batch], Awaitable[None]]


@dataclass
class _GuildState:
    snapshot: Snapshot | None = None
    pending: list[Join] = field(default_factory=list)
    refresh: bool = False
    task: asyncio.Task[None] | None = None
    last_fetch: float = float("-inf")
    forbidden_until: datetime | None = None
    source: Any = None  # the latest event of this guild, for a refresh without joins
    recording: bool = False  # the round under way has joins to record


class Pacer:
    """Lets callers through one at a time, `1 / rate` seconds apart, in the order they came.

    Spaced from the previous caller's actual release, not from reservations: after the loop was busy for a
    while, waiters go one by one again instead of all at once (a burst that Discord would refuse).
    """

    def __init__(self, rate: float) -> None:
        self._gap = 1 / rate
        self._last = float("-inf")
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            wait = self._last + self._gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last = time.monotonic()


class InviteTracker:
    """One per bot; listeners call `refresh`, `invite_created`, `invite_deleted`, `member_joined`."""

    def __init__(self, fetch: Fetch, deliver: Deliver, now: Callable[[], datetime], *, min_gap: float = MIN_GAP_S,
                 forbidden_retry: timedelta = FORBIDDEN_RETRY, refresh_rate: float = REFRESH_RATE_PER_S) -> None:
        self._fetch = fetch
        self._deliver = deliver
        self._now = now  # the bot's clock
        self._min_gap = min_gap
        self._forbidden_retry = forbidden_retry
        self._refreshes = Pacer(refresh_rate)
        self._guilds: dict[int, _GuildState] = {}
        self.fetches = 0
        self.closed = False

    def _state(self, guild_id: int) -> _GuildState:
        return self._guilds.setdefault(guild_id, _GuildState())

    def snapshot(self, guild_id: int) -> Snapshot | None:
        found = self._guilds.get(guild_id)
        return None if found is None or found.snapshot is None else dict(found.snapshot)

    def refresh(self, guild_id: int, source: Any) -> None:
        """The server became available (start-up, outage over, bot added): forget the counts, read them anew."""
        state = self._state(guild_id)
        state.snapshot = None
        state.forbidden_until = None
        state.refresh = True
        state.source = source
        self._kick(guild_id, state)

    def invite_created(self, guild_id: int, invite: InviteCount) -> None:
        state = self._state(guild_id)
        if state.snapshot is not None:
            state.snapshot[invite.code] = invite

    def invite_deleted(self, guild_id: int, code: str) -> None:
        """An invite one use short of its limit may be deleted *because* a join used it (the join's event may
        come later): it stays in the snapshot, so that join sees it vanish and is recorded as unknown."""
        state = self._state(guild_id)
        found = state.snapshot.get(code) if state.snapshot is not None else None
        if state.snapshot is not None and found is not None and not (
                found.max_uses and found.uses == found.max_uses - 1):
            del state.snapshot[code]

    def member_joined(self, guild_id: int, join: Join) -> None:
        state = self._state(guild_id)
        state.pending.append(Join(join.user_id, join.joined_at, join.source, state.snapshot is not None,
                                  join.generation))
        self._kick(guild_id, state)

    async def settled(self, guild_id: int, *, within_s: float | None = None) -> None:
        """Wait until the joins seen so far in the server are recorded; with `within_s`, at most that long
        (they go on being recorded after)."""
        state = self._guilds.get(guild_id)
        if state is not None and state.task is not None and not state.task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(state.task), within_s)

    def forget(self, guild_id: int) -> None:
        """The bot left the server."""
        state = self._guilds.pop(guild_id, None)
        if state is not None and state.task is not None:
            state.task.cancel()

    def _kick(self, guild_id: int, state: _GuildState) -> None:
        if self.closed or (state.task is not None and not state.task.done()):
            return
        state.task = asyncio.get_running_loop().create_task(self._work(guild_id, state))

    async def _work(self, guild_id: int, state: _GuildState) -> None:
        while (state.pending or state.refresh) and not self.closed:
            if not state.pending:  # a re-read alone; joins arriving while it waits join its round
                await self._refreshes.turn()
            wait = state.last_fetch + self._min_gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # joins arriving meanwhile share the next fetch
            batch, state.pending, state.refresh = state.pending, [], False
            before = None if state.snapshot is None else dict(state.snapshot)
            source = batch[-1].source if batch else state.source
            state.recording = bool(batch)
            try:
                await self._round(guild_id, state, batch, before, source)
            except Exception:  # a worker that died would leave every later join unrecorded
                log.exception("invite tracking failed for %d join(s) in guild %s", len(batch), guild_id)
            finally:
                state.recording = False

    async def _round(self, guild_id: int, state: _GuildState, joins: list[Join], before: Snapshot | None,
                     source: Any) -> None:
        now = self._now()
        fresh: Snapshot | None = None
        forbidden = False
        if state.forbidden_until is not None and now < state.forbidden_until:
            forbidden = True
        else:
            state.last_fetch = time.monotonic()
            self.fetches += 1
            try:
                fresh = await self._fetch(guild_id)
            except InvitesForbidden:
                forbidden = True
                state.forbidden_until = now + self._forbidden_retry
            except Exception as error:
                log.warning("could not read the invites of guild %s: %s", guild_id, error)
            else:
                state.forbidden_until = None
        state.snapshot = fresh
        verdict = _verdict(before, fresh, joins, now, forbidden=forbidden)
        if source is not None:
            await self._deliver(Batch(guild_id, joins, verdict, fresh, source, forbidden))

    async def close(self) -> None:
        """Stop: nothing new starts; rounds recording joins get `CLOSE_GRACE_S`, re-reads stop at once.

        At start-up every server's counts are re-read, queued behind Discord's rate limits: waiting
        for all of them would hold a shutdown for minutes. A re-read records nothing, so it is dropped.
        """
        self.closed = True
        running = [(s.recording, s.task) for s in self._guilds.values() if s.task is not None and not s.task.done()]
        if not running:
            return
        for recording, task in running:
            if not recording:
                task.cancel()
        tasks = [task for _, task in running]
        _, late = await asyncio.wait(tasks, timeout=CLOSE_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if late:
            log.warning("stopped with the joins of %d server(s) not recorded (Discord did not answer within %d s)",
                        len(late), CLOSE_GRACE_S)


def _verdict(before: Snapshot | None, fresh: Snapshot | None, joins: list[Join], now: datetime, *,
             forbidden: bool) -> Verdict:
    if forbidden:
        return Verdict(None, NO_PERMISSION)
    if fresh is None:
        return Verdict(None, UNREADABLE)
    if not all(j.had_snapshot for j in joins):
        return Verdict(None, NO_SNAPSHOT)
    return attribute(before, fresh, len(joins), now)


__all__ = ["Batch", "InviteCount", "InviteTracker", "InvitesForbidden", "Join"]
