"""Every Prometheus metric of one bot (prometheus-client), in a registry of its own.

A registry per bot, not the library's global one: tests and the sandbox start several bots in one
process. Figures the bot already keeps (the manager's counters, the guilds in hikari's cache, the
files on disk) are read at scrape time by collectors; events are counted as they happen.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.db.fleet import list_guild_files
from app.db.slots import ManagerStats

LARGEST_SHOWN = 10  # guild files named in guildshelf_guild_file_bytes (bounded label cardinality)
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class BotMetrics:
    """The bot's metrics; `watch()` adds the collectors of what the bot already counts."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.command_seconds = Histogram("guildshelf_command_seconds", "Time from a command's arrival to its "
                                         "answer or failure", ["command"], registry=r, buckets=COMMAND_BUCKETS)
        self.commands = Counter("guildshelf_commands", "Commands run, by outcome (ok, user_error, internal_error)",
                                ["command", "outcome"], registry=r)
        self.rate_limited = Counter("guildshelf_commands_rate_limited", "Commands refused by the bot's own "
                                    "budget (RATE_MEMBER, RATE_GUILD)", ["scope"], registry=r)
        self.gateway_events = Counter("guildshelf_gateway_events", "Gateway dispatches received, by Discord's "
                                      "event name", ["type"], registry=r)
        self.discord_429 = Counter("guildshelf_discord_rest_429", "429 answers from Discord's REST API "
                                   "(hikari waits and retries)", ["scope"], registry=r)
        self.external_calls = Counter("guildshelf_external_calls", "AniList and Steam calls, by outcome",
                                      ["service", "outcome"], registry=r)
        self.external_wait = Counter("guildshelf_external_rate_limit_wait_seconds", "Time the AniList and Steam "
                                     "clients waited for their rate limit", ["service"], registry=r)
        self.retention = Counter("guildshelf_retention_purges", "Guild files the retention purge handled, by "
                                 "outcome (deleted, rejoined, no file, failed)", ["outcome"], registry=r)
        self.upkeep_rounds = Counter("guildshelf_upkeep_rounds", "Upkeep rounds run (retention purge, kept "
                                     "legacy copies)", registry=r)
        self.storage_full = Counter("guildshelf_storage_full", "Writes refused because a guild file reached "
                                    "MAX_GUILD_DB_MB", registry=r)
        self.loop_lag = Histogram("guildshelf_event_loop_lag_seconds", "How late the event loop ran a timer "
                                  "(a busy or blocked loop)", registry=r, buckets=LAG_BUCKETS)

    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        self.commands.labels(command, outcome).inc()
        self.command_seconds.labels(command).observe(seconds)

    def watch(self, stats: Callable[[], ManagerStats], root: Path, *, guilds_served: Callable[[], int],
              quota_bytes: int) -> None:
        """Read the manager's counters, the guilds served and the files on disk at each scrape."""
        self.registry.register(_ManagerCollector(stats))
        self.registry.register(_GaugeCollector("guildshelf_guilds_served", "Guilds this process serves "
                                               "(in hikari's cache)", guilds_served))
        self.registry.register(_DiskCollector(root, quota_bytes))


class _GaugeCollector(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name, self._doc, self._read = name, documentation, read

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self._name, self._doc, value=self._read())


class _ManagerCollector(Collector):
    """GuildDatabaseManager.stats() as Prometheus counters and gauges."""

    COUNTERS = ("hits", "misses", "opens", "creates", "evictions", "closes", "open_seconds", "close_seconds",
                "virtual_opens")

    def __init__(self, stats: Callable[[], ManagerStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        for name in self.COUNTERS:
            yield CounterMetricFamily(f"guildshelf_db_{name}", f"Guild database manager: {name.replace('_', ' ')}",
                                      value=getattr(s, name))
        yield GaugeMetricFamily("guildshelf_db_open", "Guild connections open now", value=s.open_now)
        yield GaugeMetricFamily("guildshelf_db_open_peak", "Most guild connections open at once", value=s.peak_open)
        yield GaugeMetricFamily("guildshelf_db_max_open", "MAX_OPEN_GUILD_DBS", value=s.max_open)


class _DiskCollector(Collector):
    """Bytes in the guild folder, the largest guild files, and how close they are to the quota."""

    def __init__(self, root: Path, quota_bytes: int) -> None:
        self._root = root
        self._quota = quota_bytes

    def collect(self) -> Iterator[Metric]:
        try:
            total = sum(p.stat().st_size for p in self._root.iterdir() if p.is_file())
            guilds = list_guild_files(self._root)
        except OSError as error:  # a scrape never fails on a file deleted meanwhile
            logging.getLogger(__name__).warning("could not measure %s: %s", self._root, error)
            return
        yield GaugeMetricFamily("guildshelf_disk_bytes", "Bytes of every file in GUILD_DBS_DIR", value=total)
        yield GaugeMetricFamily("guildshelf_guild_files", "Guild database files on disk", value=len(guilds))
        yield GaugeMetricFamily("guildshelf_guild_quota_bytes", "MAX_GUILD_DB_MB in bytes", value=self._quota)
        near = sum(1 for g in guilds if g.size_bytes >= 0.8 * self._quota)
        yield GaugeMetricFamily("guildshelf_guild_files_near_quota", "Guild files at 80 % of the quota or more",
                                value=near)
        largest = GaugeMetricFamily("guildshelf_guild_file_bytes", f"The {LARGEST_SHOWN} largest guild files "
                                    "(with -wal and -shm)", labels=["guild_id"])
        for g in sorted(guilds, key=lambda g: g.size_bytes, reverse=True)[:LARGEST_SHOWN]:
            largest.add_metric([str(g.guild_id)], g.size_bytes)
        yield largest


class Discord429Counter(logging.Handler):
    """hikari retries 429s itself and only logs them: count its log lines ("rate limited on …")."""

    def __init__(self, metrics: BotMetrics) -> None:
        super().__init__(logging.WARNING)
        self._metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        if message.startswith("rate limited"):
            scope = "global" if "global bucket" in message else "user" if "more than one bot" in message else "route"
            self._metrics.discord_429.labels(scope).inc()
