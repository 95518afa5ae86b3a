"""XP for messages: a listener that counts (cooldown in memory), a writer that commits per guild in
batches, and level-up announcements where the server turned them on.

A message's content is never read (the bot does not ask for MESSAGE_CONTENT). The writer stops with
the bot: `XpService.close` runs as the DI teardown when the client stops, before the manager closes
its connections, and commits every gain still pending.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import cachetools
import hikari
import lightbulb

from app.bot.announce import announce
from app.bot.clock import Clock
from app.bot.di import EventGuildDb
from app.bot.forgetting import Forgetting
from app.config import Settings
from app.errors import BotError
from app.features.guild_settings import GuildSettings, fetch_guild_settings
from app.features.xp import LevelUp, add_xp
from app.features.xp_recorder import PendingGuild, XpRecorder

log = logging.getLogger(__name__)

WRITE_CONCURRENCY = 8
MAX_WRITE_ATTEMPTS = 3
SETTLE_WAIT_S = 3.0  # a command showing XP waits at most this for the messages already counted to be written
LAG_SAMPLES = 200_000

loader = lightbulb.Loader()


@dataclass(slots=True)
class XpFigures:
    """What scripts/bench_e2e.py reports: messages seen, gains committed, event→commit lag."""

    messages: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    transactions: int = 0
    gains_committed: int = 0
    first_commit: float = 0.0
    last_commit: float = 0.0
    lags_ms: list[float] = field(default_factory=list)

    def seen(self, now: float) -> None:
        self.messages += 1
        self.first_seen = self.first_seen or now
        self.last_seen = now

    def committed(self, now: float, event_times: list[float]) -> None:
        self.transactions += 1
        self.gains_committed += len(event_times)
        self.first_commit = self.first_commit or now
        self.last_commit = now
        if len(self.lags_ms) < LAG_SAMPLES:
            self.lags_ms.extend((now - t) * 1000 for t in event_times)

    def summary(self) -> dict[str, float]:
        lags = sorted(self.lags_ms)

        def pct(q: float) -> float:
            return round(lags[min(len(lags) - 1, int(q * len(lags)))], 1) if lags else 0.0

        return {"messages_seen": self.messages, "seen_seconds": round(self.last_seen - self.first_seen, 3),
                "gains_committed": self.gains_committed, "transactions": self.transactions,
                "commit_seconds": round(self.last_commit - self.first_commit, 3),
                "lag_p50_ms": pct(0.50), "lag_p99_ms": pct(0.99), "lag_max_ms": pct(1.0)}


class XpService:
    """One per bot: the recorder, the writer task and its figures (see scripts/bench_e2e.py)."""

    def __init__(self, settings: Settings, guild_dbs: EventGuildDb, clock: Clock) -> None:
        # monotonic, plus what the sandbox advanced the bot's clock by (`clock +1m` ends cooldowns)
        self.recorder = XpRecorder(settings.xp_cooldown_seconds,
                                   clock=lambda: time.monotonic() + clock.offset.total_seconds())
        self._guild_dbs = guild_dbs
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._announcing: set[asyncio.Task[None]] = set()
        self._rest: hikari.api.RESTClient | None = None
        self._writing: set[int] = set()  # guilds whose taken gains are being written now
        self._flushed = asyncio.Event()  # set (and replaced) each time a flush ends
        self.closed = False
        self.figures = XpFigures()
        self.heard = 0  # message events the listener got, a bot's or a member's (the sandbox waits for its own)

    # -- counting ----------------------------------------------------------
    def on_message(self, event: hikari.GuildMessageCreateEvent) -> None:
        """Count a member's message: memory only, never a database access or an await."""
        self.heard += 1
        if self.closed or not event.is_human:
            return
        self.figures.seen(time.time())
        if self.recorder.count(int(event.guild_id), int(event.author_id), channel_id=int(event.channel_id),
                               event_time=event.message_id.created_at.timestamp(), source=event):
            self._rest = event.app.rest
            self._wake.set()
            if self._writer is None:
                self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    def settings_changed(self, guild_id: int, settings: GuildSettings) -> None:
        """/settings saved: the cooldown and amount apply from the next message."""
        self.recorder.remember_config(guild_id, settings)

    # -- writing -----------------------------------------------------------
    async def _write_forever(self) -> None:
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Commit everything pending now (a bounded number of guilds at a time)."""
        taken, taken_at = self.recorder.take()
        gate = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def one(guild_id: int, pending: PendingGuild) -> None:
            async with gate:
                await self._write_guild(guild_id, pending, taken_at)

        self._writing = set(taken)
        try:
            await asyncio.gather(*(one(g, p) for g, p in taken.items()))
        finally:
            self._writing = set()
            flushed, self._flushed = self._flushed, asyncio.Event()
            flushed.set()

    async def settled(self, guild_id: int, *, within_s: float = SETTLE_WAIT_S) -> None:
        """Wait until the messages counted so far in this server are written (at most `within_s`), so that a
        member who just wrote sees that XP in /profile or /leaderboard."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not self.closed and self._writer is not None and (
                guild_id in self.recorder.pending or guild_id in self._writing):
            left = deadline - loop.time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), left)

    async def _write_guild(self, guild_id: int, pending: PendingGuild, taken_at: int) -> None:
        if not self.recorder.still_wanted(guild_id, pending, taken_at):
            return  # erased or deleted since it was counted
        try:
            async with self._guild_dbs.for_event(pending.source) as db:
                if not self.recorder.still_wanted(guild_id, pending, taken_at):
                    return  # erased while this write waited for the file
                config = await fetch_guild_settings(db)  # one small read; the file was opened anyway
                ups = await add_xp(db, [(user_id, count * config.xp_amount)
                                        for user_id, count in pending.gains.items()])
            self.recorder.remember_config(guild_id, config)
        except Exception as error:  # a writer that died would lose every later gain: log, retry, go on
            attempt = pending.attempts + 1
            log.warning("XP of %d member(s) not written in guild %s (attempt %d of %d): %s", len(pending.gains),
                        guild_id, attempt, MAX_WRITE_ATTEMPTS, error, exc_info=not isinstance(error, BotError))
            if attempt < MAX_WRITE_ATTEMPTS:
                self.recorder.give_back(guild_id, pending, taken_at)
                self._wake.set()
            return
        self.figures.committed(time.time(), pending.event_times)
        if ups and config.levelup_announcements:
            task = asyncio.get_running_loop().create_task(self._announce(guild_id, config, ups, pending.channels))
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)

    # -- announcing --------------------------------------------------------
    async def _announce(self, guild_id: int, config: GuildSettings, ups: list[LevelUp],
                        channels: dict[int, int]) -> None:
        """Level-ups go to the announcement channel if set, else where the member wrote."""
        if self._rest is None:
            return
        for up in ups:
            channel_id = config.announce_channel_id or channels.get(up.user_id)
            if channel_id is not None:
                await announce(self._rest, guild_id, channel_id, f"<@{up.user_id}> reached level {up.level}!",
                               mention=up.user_id)

    async def close(self) -> None:
        """Stop counting, commit what is pending, let announcements finish."""
        self.closed = True
        writer, self._writer = self._writer, None
        if writer is not None:  # never cancelled: a cancelled transaction would roll its gains back
            self._wake.set()
            await writer
        while self.recorder.pending:
            await self.flush()
        await self.announced()

    async def announced(self) -> None:
        """Wait for the level-up announcements under way (their failures are logged where they happen)."""
        if self._announcing:
            await asyncio.gather(*self._announcing, return_exceptions=True)


# lightbulb's Client takes no weak references: the last few clients' services, by id (tests start many bots)
_services: cachetools.LRUCache[int, XpService] = cachetools.LRUCache(maxsize=4)


def service_of(client: lightbulb.Client) -> XpService | None:
    """The client's XP service once a message or command created it (for the benchmark's figures)."""
    return _services.get(id(client))


class _Registration(lightbulb.Loadable):
    """Makes `XpService` injectable (one per client); loaded before the listener below."""

    async def load(self, client: lightbulb.Client) -> None:
        registry = client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
        if XpService in registry:  # loading is idempotent (lightbulb's contract)
            return

        def create(settings: Settings, guild_dbs: EventGuildDb, clock: Clock, forgetting: Forgetting) -> XpService:
            service = _services[id(client)] = XpService(settings, guild_dbs, clock)
            forgetting.subscribe(service.recorder.forget)
            return service

        registry.register_factory(XpService, create, teardown=XpService.close)

    async def unload(self, client: lightbulb.Client) -> None:
        """Nothing: a registered dependency stays for the client's life."""


loader.add(_Registration())


@loader.listener(hikari.GuildMessageCreateEvent)
async def on_message(event: hikari.GuildMessageCreateEvent, xp: XpService) -> None:
    """A member's message may earn XP (never its content)."""
    xp.on_message(event)
