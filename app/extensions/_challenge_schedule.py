"""Ends challenges when their time comes and announces the winners, on the bot's one clock.

The files are the truth: when a server becomes available (start-up, a restart, the bot added) its next
end is read from its file, so a restart loses nothing; memory holds only "guild → next end", and one
`clock.repeat` round a minute opens just the files whose end has come (a sandbox `clock +8d` wakes it).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

import hikari

from app.bot.announce import announce
from app.bot.clock import Clock, Timer
from app.bot.di import EventGuildDb
from app.features import challenges as ch
from app.features.text import shown

log = logging.getLogger(__name__)
CHECK_EVERY_S = 60.0
MEDALS = ("🥇", "🥈", "🥉")


def winners_text(challenge: ch.Challenge, table: list[ch.Standing]) -> str:
    top = ch.winners(table)
    if not top:
        return f"🏁 The reading challenge **{shown(challenge.title)}** has ended. Nobody scored this time."
    podium = ", ".join(f"{medal} <@{s.user_id}> ({s.points:,} points)" for medal, s in zip(MEDALS, top, strict=False))
    return f"🏁 The reading challenge **{shown(challenge.title)}** has ended! Winners: {podium}."


class ChallengeScheduler:
    """One per bot (injectable)."""

    def __init__(self, bot: hikari.GatewayBot, guild_dbs: EventGuildDb, clock: Clock) -> None:
        self._bot = bot
        self._guild_dbs = guild_dbs
        self._clock = clock
        self._due: dict[int, datetime] = {}
        self._loop: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._unread: dict[int, None] = {}  # servers whose next end is still to be read, in arrival order
        self._reader: asyncio.Task[None] | None = None
        self._timers: dict[int, Timer] = {}  # guild → a timer at its next end: the end is not a round late

    def schedule(self, guild_id: int, due: datetime | None) -> None:
        """This guild's next end (None: nothing running).

        The minute's round finds ends missed meanwhile; a timer at the end itself ends the challenge on time
        (a sandbox `clock` line crossing midnight shows the winners, and nobody joins after the end).
        """
        if (timer := self._timers.pop(guild_id, None)) is not None:
            timer.cancel()
        if due is None:
            self._due.pop(guild_id, None)
        else:
            self._due[guild_id] = due
            delay = max(0.0, (due - self._clock.now()).total_seconds())
            self._timers[guild_id] = self._clock.call_later(delay, lambda: self.round(at_least=due))
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._clock.repeat(CHECK_EVERY_S, self.round))

    async def watch(self, guild_id: int) -> None:
        """A server became available: its next end is read from its file, overdue ones ended, in the background.

        One server at a time: at start-up every server becomes available at once, and 10,000 opens queued
        together on the thread that opens files held the first commands' opens behind them past 30 s.
        """
        self._unread[guild_id] = None
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_unread())

    async def _read_unread(self) -> None:
        while self._unread:
            guild_id = next(iter(self._unread))
            del self._unread[guild_id]
            try:
                await self._read_next_end(guild_id)
            except Exception:  # one unreadable server never stops the others' schedules
                log.exception("could not read the next challenge end of guild %s", guild_id)

    async def _read_next_end(self, guild_id: int) -> None:
        if not self._guild_dbs.has_file(guild_id):
            return
        async with self._guild_dbs.for_scheduled(guild_id) as db:
            self.schedule(guild_id, await ch.next_end(db))
        await self.round()

    def forget(self, guild_id: int) -> None:
        if (timer := self._timers.pop(guild_id, None)) is not None:
            timer.cancel()
        self._due.pop(guild_id, None)
        self._unread.pop(guild_id, None)

    async def round(self, *, at_least: datetime | None = None) -> None:
        """End and announce every challenge whose end has come (`at_least`: a timer's end, which has come even
        if the wall clock read a hair earlier than the loop's timer)."""
        async with self._lock:
            now = max(self._clock.now(), at_least or self._clock.now())
            for guild_id in [g for g, due in self._due.items() if due <= now]:
                try:
                    await self._end_due(guild_id, now)
                except Exception:  # one server's trouble never stops the others' endings
                    log.exception("challenge endings failed in guild %s; retried next round", guild_id)

    async def _end_due(self, guild_id: int, now: datetime) -> None:
        if not self._guild_dbs.has_file(guild_id):  # the server's data was deleted meanwhile: nothing to end
            self.forget(guild_id)
            return
        posts: list[tuple[int, str]] = []
        async with self._guild_dbs.for_scheduled(guild_id) as db:
            channel_id = await ch.announcement_channel(db)
            for challenge in await ch.due_challenges(db, now):
                table = await ch.end_challenge(db, challenge.id)
                if table is not None and channel_id is not None:
                    posts.append((channel_id, winners_text(challenge, table)))
            self.schedule(guild_id, await ch.next_end(db))
        for channel_id, text in posts:  # outside the lease: Discord may be slow
            await announce(self._bot.rest, guild_id, channel_id, text)

    async def close(self) -> None:
        self._unread.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in (self._reader, self._loop):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reader = self._loop = None
