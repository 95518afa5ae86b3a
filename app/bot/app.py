"""The GatewayBot, its lightbulb client, the guild database manager, and how they start and stop together."""
from __future__ import annotations

import gc
import importlib
import pkgutil
import sys
from types import ModuleType
from typing import Any

import hikari
import lightbulb

from app.bot import checks, deferral, di
from app.bot.clock import Clock
from app.bot.errors import handle_command_error, log_listener_error
from app.bot.lifecycle import Lifecycle
from app.bot.resolvers import generate_resolvers_once
from app.config import Settings
from app.db import GuildDatabaseManager
from app.db.files import OpenOptions
from app.errors import ConfigurationError
from app.ops.quota import max_page_count
from app.ops.wiring import Operations

INTENTS = (hikari.Intents.GUILDS | hikari.Intents.GUILD_MEMBERS | hikari.Intents.GUILD_INVITES
           | hikari.Intents.GUILD_MESSAGES)
EXTENSIONS_PACKAGE = "app.extensions"
NO_TOKEN = ("DISCORD_TOKEN is not set: create a bot at https://discord.com/developers/applications and put "
            "its token in DISCORD_TOKEN (or .env); to try the bot without one, run `python -m app sandbox --demo`.")
GC_THRESHOLDS = (5_000, 50, 1_000)  # young collections short enough for the loop-lag bound (storage.md)
SWITCH_INTERVAL_S = 0.001


def tune_runtime() -> None:
    """For the bot's own process, once started (measured in scripts/bench_e2e.py).

    The startup objects (modules, hikari's cache of every guild) leave the collector's scans and young
    collections run less often: full collections over the cache were the p99 (≈100 ms → ≈25 ms).
    SQLite worker threads get the GIL back within 1 ms instead of 5 ms of a busy event loop.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def extension_modules(package: str = EXTENSIONS_PACKAGE) -> list[str]:
    """Every module of the extensions package (a new feature is a new module with a `loader`)."""
    pkg = importlib.import_module(package)
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.name.startswith("_") and not m.ispkg)


def import_extensions(names: list[str]) -> list[ModuleType]:
    """Import first, so that a broken extension stops the bot instead of being skipped with a log line."""
    modules = [importlib.import_module(name) for name in names]
    for module in modules:
        if not isinstance(getattr(module, "loader", None), lightbulb.Loader):
            raise ConfigurationError(f"Extension {module.__name__} has no `loader = lightbulb.Loader()`.")
    return modules


class BotApp:
    """One running bot: `await app.start()` … `await app.stop()`, or `app.run()` for the process."""

    def __init__(self, settings: Settings, *, token: str, rest_url: str | None = None,
                 extensions: list[str] | None = None, manager: GuildDatabaseManager | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()  # the one time source: the sandbox advances it
        generate_resolvers_once()
        self.extensions = extension_modules() if extensions is None else extensions
        import_extensions(self.extensions)
        # one thread opens and closes files: two or more contend for the GIL with the event loop
        # (scripts/bench_e2e.py, 1,000 guilds over 128 connections: 260/s with 2 threads, 320/s with 1)
        self.manager = manager or GuildDatabaseManager(
            settings.guild_dbs_dir, lifecycle_threads=1, max_open=settings.max_open_guild_dbs,
            policy=settings.guild_cache_policy, shards=settings.shard_block,
            options=OpenOptions(max_page_count=max_page_count(settings.max_guild_db_mb),
                                lazy_files=settings.guild_file_creation == "first-write"))
        self.ops = Operations(settings, self.manager, self.clock)  # metrics, health, command budget, quota
        self.bot = hikari.GatewayBot(
            token, intents=INTENTS, rest_url=rest_url, banner=None, logs=None,
            suppress_optimization_warning=True, auto_chunk_members=False,
            # keep-alive REST: a TCP connection per call cut bench_e2e from 1,630/s to 963/s (reply only)
            http_settings=hikari.impl.HTTPSettings(force_close_transports=False))
        # several processes serve one bot: only the one with shard 0 syncs the slash commands
        # a command that answered nothing fails before its success is counted (both after its invocation)
        hooks = [deferral.answer_the_silent, *self.ops.hooks, checks.guild_only, deferral.defer_when_slow(self.clock)]
        self.client = deferral.Client(
            self.bot, hooks=hooks,
            sync_commands=0 in (settings.shard_ids or (0,)))
        self.client.error_handler(handle_command_error)
        self.anilist = di.install(self.client, self.manager, settings, self.clock)
        self.ops.install(self.bot, self.client)
        if settings.litestream_replica_url is not None:
            from app.replicate.wiring import Replication

            Replication(self.manager, settings.litestream_replica_url).subscribe(self.bot)
        Lifecycle(self.manager, settings, self.clock, on_purge=self.ops.count_purge).subscribe(self.bot)
        self.bot.subscribe(hikari.ExceptionEvent, log_listener_error)
        self.bot.subscribe(hikari.StartingEvent, self._on_starting)
        self.bot.subscribe(hikari.StoppingEvent, self.client.stop)
        self.bot.subscribe(hikari.StoppedEvent, self._on_stopped)

    async def _on_starting(self, _: hikari.StartingEvent) -> None:
        """Extensions, then the client (commands synced over REST), all before any shard connects.

        hikari waits for StartingEvent's listeners before connecting. Started on StartedEvent instead, the
        client ignored every command that arrived behind READY's thousands of GUILD_CREATEs before it
        (lightbulb drops them with a debug line; the member sees "The application did not respond").
        """
        await self.client.load_extensions(*self.extensions)
        await self.client.start()

    async def _on_stopped(self, _: hikari.StoppedEvent) -> None:
        await self.manager.close_all()

    async def start(self) -> None:
        """Connect, sync commands; returns once the bot is ready to answer."""
        await self.bot.start(check_for_updates=False, **self._shard_options())

    async def stop(self) -> None:
        """Disconnect and close every database connection."""
        if self.bot.is_alive:
            await self.bot.close()
        await self.ops.stop()
        await self.manager.close_all()

    def run(self) -> None:
        """Block until interrupted (SIGINT/SIGTERM), then shut down cleanly; tunes the process for serving."""

        async def tune(_: hikari.StartedEvent) -> None:
            tune_runtime()

        self.bot.subscribe(hikari.StartedEvent, tune)
        self.bot.run(check_for_updates=False, close_passed_executor=True, **self._shard_options())

    def _shard_options(self) -> dict[str, Any]:
        """SHARD_IDS/SHARD_COUNT for hikari (no count: the gateway's recommendation)."""
        ids, count = self.settings.shard_ids, self.settings.shard_count
        return {"shard_count": count, "shard_ids": list(ids) if ids is not None else None}


def create_bot(settings: Settings, *, rest_url: str | None = None, token: str | None = None,
               extensions: list[str] | None = None) -> BotApp:
    """The bot for `settings` (token from DISCORD_TOKEN unless given; `rest_url` points at a double).

    Raises:
        ConfigurationError: there is no token.
    """
    token = token or settings.discord_token
    if not token:
        raise ConfigurationError(NO_TOKEN)
    return BotApp(settings, token=token, rest_url=rest_url, extensions=extensions)
