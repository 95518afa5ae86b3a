"""One bot's operations: metrics, `/metrics` + `/healthz`, the command budget, the storage quota's answers.

Everything applies to every command through the lightbulb client (two hooks and two error handlers)
and to every event through one listener: a new feature gets them without a line of its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time

import hikari
import lightbulb

from app.bot.clock import Clock
from app.bot.errors import find_user_error
from app.config import Settings
from app.db import GuildDatabaseManager
from app.errors import RateLimitedError
from app.ops import quota
from app.ops.health import OpsServer
from app.ops.logs import set_context
from app.ops.metrics import BotMetrics, Discord429Counter
from app.ops.ratelimit import CommandBudget
from app.rights.retention import PurgeResult

log = logging.getLogger(__name__)

LAG_INTERVAL_S = 0.5
_started: contextvars.ContextVar[float] = contextvars.ContextVar("guildshelf_command_started", default=0.0)


def _command_name(ctx: lightbulb.Context) -> str:
    return ctx.command_data.qualified_name


class Operations:
    """Created by BotApp; `hooks` go to the lightbulb client, `install()` wires the rest."""

    def __init__(self, settings: Settings, manager: GuildDatabaseManager, clock: Clock) -> None:
        self._settings = settings
        self._manager = manager
        self.metrics = BotMetrics()
        self.budget = CommandBudget(settings.rate_member, settings.rate_guild, lambda: clock.now().timestamp())
        self.quota = quota.QuotaWatch(settings.max_guild_db_mb)
        self.server: OpsServer | None = None
        if settings.metrics_port is not None:  # bound now: a port in use stops the bot before it connects
            self.server = OpsServer(self.metrics.registry, self.health_problem, host=settings.metrics_host,
                                    port=settings.metrics_port)
        self._bot: hikari.GatewayBot | None = None
        self._lag: asyncio.Task[None] | None = None
        self._rest_log = Discord429Counter(self.metrics)
        self.hooks = [self._first_hook(), self._ok_hook()]

    # -- commands ------------------------------------------------------------
    def _first_hook(self) -> lightbulb.ExecutionHook:
        @lightbulb.hook(lightbulb.ExecutionSteps.MAX_CONCURRENCY, name="budget_first")
        def budget_first(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
            """First of every command: the clock starts, the log context is set, the budget is spent."""
            _started.set(time.perf_counter())
            guild_id = int(ctx.guild_id) if ctx.guild_id is not None else None
            set_context(guild_id=guild_id, user_id=int(ctx.user.id), command=_command_name(ctx))
            if guild_id is None:
                return  # the guild-only check answers
            refusal = self.budget.take(guild_id, int(ctx.user.id))
            if refusal is not None:
                self.metrics.rate_limited.labels(refusal.scope).inc()
                raise RateLimitedError(refusal.message)

        return budget_first

    def _ok_hook(self) -> lightbulb.ExecutionHook:
        @lightbulb.hook(lightbulb.ExecutionSteps.POST_INVOKE, skip_when_failed=True, name="count_ok")
        def count_ok(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
            self.metrics.command_done(_command_name(ctx), "ok", time.perf_counter() - _started.get())
            if ctx.guild_id is not None:
                self.quota.check(int(ctx.guild_id), self._manager.path_for(int(ctx.guild_id)))

        return count_ok

    async def count_failure(self, exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
        """First error handler: counts the outcome, handles nothing."""
        causes = list(exc.causes)
        user_error = find_user_error(causes) is not None or quota.find_storage_full(causes) is not None
        self.metrics.command_done(_command_name(exc.context), "user_error" if user_error else "internal_error",
                                  time.perf_counter() - _started.get())
        return False

    async def answer_storage_full(self, exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
        """A write past MAX_GUILD_DB_MB: one sentence for the member, one warning for the operator."""
        if quota.find_storage_full(list(exc.causes)) is None:
            return False
        ctx = exc.context
        self.metrics.storage_full.inc()
        log.warning("guild %s reached its storage quota (%d MB): /%s was refused", ctx.guild_id,
                    self._settings.max_guild_db_mb, _command_name(ctx))
        try:
            await ctx.respond(quota.storage_full_message(self._settings.max_guild_db_mb), ephemeral=True)
        except hikari.HikariError:
            log.warning("could not send the storage-full reply in guild %s", ctx.guild_id, exc_info=True)
        return True

    # -- the bot ---------------------------------------------------------------
    def install(self, bot: hikari.GatewayBot, client: lightbulb.Client) -> None:
        self._bot = bot
        client.error_handler(self.count_failure, priority=20)
        client.error_handler(self.answer_storage_full, priority=10)
        client.di.registry_for(lightbulb.di.Contexts.DEFAULT).register_value(BotMetrics, self.metrics)
        self.metrics.watch(self._manager.stats, self._manager.root, guilds_served=self._guilds_served,
                           quota_bytes=quota.quota_bytes(self._settings.max_guild_db_mb))
        bot.subscribe(hikari.ShardPayloadEvent, self._count_event)
        bot.subscribe(hikari.StartingEvent, self._on_starting)
        bot.subscribe(hikari.StartedEvent, self._on_started)
        bot.subscribe(hikari.StoppedEvent, self._on_stopped)

    def _guilds_served(self) -> int:
        return len(self._bot.cache.get_guilds_view()) if self._bot is not None else 0

    async def _count_event(self, event: hikari.ShardPayloadEvent) -> None:
        """Every dispatch from the gateway, by Discord's name for it (MESSAGE_CREATE, INTERACTION_CREATE…)."""
        self.metrics.gateway_events.labels(event.name).inc()

    def count_purge(self, results: list[PurgeResult]) -> None:
        self.metrics.upkeep_rounds.inc()
        for result in results:
            self.metrics.retention.labels(result.outcome).inc()

    async def _on_starting(self, _: hikari.StartingEvent) -> None:
        """Before the gateway connects: /healthz says 503 until it is up."""
        logging.getLogger("hikari.rest").addHandler(self._rest_log)
        if self.server is not None:
            await self.server.start()

    async def _on_started(self, _: hikari.StartedEvent) -> None:
        self._lag = asyncio.get_running_loop().create_task(self._measure_lag())

    async def _on_stopped(self, _: hikari.StoppedEvent) -> None:
        await self.stop()

    async def stop(self) -> None:
        logging.getLogger("hikari.rest").removeHandler(self._rest_log)
        task, self._lag = self._lag, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.server is not None:
            await self.server.stop()

    async def _measure_lag(self) -> None:
        """How late a timer fires on this loop (real time: the sandbox's clock advances do not count)."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_INTERVAL_S
            await asyncio.sleep(LAG_INTERVAL_S)
            self.metrics.loop_lag.observe(max(0.0, loop.time() - due))

    async def health_problem(self) -> str | None:
        """None when the gateway is connected and the bot-wide file answers; else what is wrong."""
        shards = self._bot.shards if self._bot is not None else {}
        if not shards or not all(s.is_alive and s.is_connected for s in shards.values()):
            return "the gateway is not connected"
        try:
            async with self._manager.connect_bot() as bot_db:
                await bot_db.execute_fetchone("SELECT 1")
        except Exception as error:  # any failure of the file is "unhealthy", never a crash of the endpoint
            log.warning("health check: the bot-wide file did not answer: %s", error)
            return "the bot-wide file did not answer"
        return None
