"""XP for messages: a listener that counts (cooldown in memory), a writer that commits per guild in
batches, and level-up announcements where the server turned them on.

A message's content is never read (the bot does not ask for MESSAGE_CONTENT). The writer stops with
the bot: `XpService.close` runs as the DI teardown when the client stops, before the manager closes
its connections, and commits every gain still pending.
"""
from __future__ import annotations

import asyncio
import logging
import time

import hikari
import lightbulb

from app.bot.announce import announce
from app.bot.di import EventGuildDb
from app.config import Settings
from app.errors import BotError
from app.features.guild_settings import GuildSettings, fetch_guild_settings
from app.features.xp import LevelUp, add_xp
from app.features.xp_recorder import PendingGuild, XpRecorder

log = logging.getLogger(__name__)

WRITE_CONCURRENCY = 8
MAX_WRITE_ATTEMPTS = 3
LAG_SAMPLES = 200_000

loader = lightbulb.Loader()


class XpService:
    """One per bot: the recorder, the writer task and its figures (see scripts/bench_e2e.py)."""

    def __init__(self, settings: Settings, guild_dbs: EventGuildDb) -> None:
        self.recorder = XpRecorder(settings.xp_cooldown_seconds)
        self._guild_dbs = guild_dbs
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._loading: dict[int, asyncio.Future[GuildSettings]] = {}
        self._announcing: set[asyncio.Task[None]] = set()
        self._rest: hikari.api.RESTClient | None = None
        self.closed = False
        self.gains_written = 0
        self.lags_ms: list[float] = []

    # -- counting ----------------------------------------------------------
    async def on_message(self, event: hikari.GuildMessageCreateEvent) -> None:
        """Count a member's message; inside the cooldown this returns without any database access."""
        if self.closed or not event.is_human:
            return
        guild_id, user_id = int(event.guild_id), int(event.author_id)
        self.recorder.messages_seen += 1
        if self.recorder.cooling(guild_id, user_id):
            return
        config = self.recorder.config(guild_id) or await self._load_config(event)
        if self.recorder.gain(guild_id, user_id, config, channel_id=int(event.channel_id),
                              event_time=event.message_id.created_at.timestamp(), source=event):
            self._rest = event.app.rest
            self._wake.set()
            if self._writer is None:
                self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    async def _load_config(self, event: hikari.GuildMessageCreateEvent) -> GuildSettings:
        """One read per guild however many messages arrive while it runs."""
        guild_id = int(event.guild_id)
        loading = self._loading.get(guild_id)
        if loading is None:
            loading = self._loading[guild_id] = asyncio.get_running_loop().create_future()
            try:
                async with self._guild_dbs.for_event(event) as db:
                    config = await fetch_guild_settings(db)
                self.recorder.remember_config(guild_id, config)
                loading.set_result(config)
            except BaseException as error:
                loading.set_exception(error)
                loading.exception()  # retrieved: the waiters (if any) re-raise it
                raise
            finally:
                del self._loading[guild_id]
        return await asyncio.shield(loading)

    def forget_config(self, guild_id: int) -> None:
        self.recorder.forget_config(guild_id)

    # -- writing -----------------------------------------------------------
    async def _write_forever(self) -> None:
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Commit everything pending now (a bounded number of guilds at a time)."""
        taken = self.recorder.take()
        gate = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def one(guild_id: int, pending: PendingGuild) -> None:
            async with gate:
                await self._write_guild(guild_id, pending)

        await asyncio.gather(*(one(g, p) for g, p in taken.items()))

    async def _write_guild(self, guild_id: int, pending: PendingGuild) -> None:
        try:
            async with self._guild_dbs.for_event(pending.source) as db:
                ups = await add_xp(db, list(pending.gains.items()))
                config = self.recorder.config(guild_id) or await fetch_guild_settings(db)
        except Exception as error:  # a writer that died would lose every later gain: log, retry, go on
            attempt = pending.attempts + 1
            log.warning("XP of %d member(s) not written in guild %s (attempt %d of %d): %s", len(pending.gains),
                        guild_id, attempt, MAX_WRITE_ATTEMPTS, error, exc_info=not isinstance(error, BotError))
            if attempt < MAX_WRITE_ATTEMPTS:
                self.recorder.give_back(guild_id, pending)
                self._wake.set()
            return
        committed = time.time()
        self.gains_written += len(pending.event_times)
        if len(self.lags_ms) < LAG_SAMPLES:
            self.lags_ms.extend((committed - t) * 1000 for t in pending.event_times)
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
        if self._announcing:
            await asyncio.gather(*self._announcing, return_exceptions=True)


def _xp_service(settings: Settings, guild_dbs: EventGuildDb) -> XpService:
    return XpService(settings, guild_dbs)


class _Registration(lightbulb.Loadable):
    """Makes `XpService` injectable (one per client); loaded before the listener below."""

    def __init__(self) -> None:
        self._clients: set[int] = set()

    async def load(self, client: lightbulb.Client) -> None:
        if id(client) in self._clients:
            return
        self._clients.add(id(client))
        client.di.registry_for(lightbulb.di.Contexts.DEFAULT).register_factory(
            XpService, _xp_service, teardown=XpService.close)

    async def unload(self, client: lightbulb.Client) -> None:
        self._clients.discard(id(client))


loader.add(_Registration())


@loader.listener(hikari.GuildMessageCreateEvent)
async def on_message(event: hikari.GuildMessageCreateEvent, xp: XpService) -> None:
    """A member's message may earn XP (never its content)."""
    await xp.on_message(event)
