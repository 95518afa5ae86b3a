"""The benchmark's bot process: the real bot plus a hidden `/bench touch`, against a Discord double.

Loaded only by scripts/bench_e2e.py (`extensions=[..., "app.sandbox.bench_bot"]`), never by `run`:
`/bench touch` reads a counter in this server's `guild_settings` and writes it back plus one, in one
transaction, then answers ephemerally — a real read and write per interaction.

    python -m app.sandbox.bench_bot --rest-url URL --token TOKEN --dbs DIR [--max-open N]
        [--shard-ids 0-1 --shard-count 4]      (one shard block, as scripts/bench_fleet.py runs it)
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import hikari
import lightbulb

from app.bot.app import BotApp, extension_modules
from app.bot.checks import GUILD_CONTEXT
from app.bot.queries import increment_setting_counter
from app.config import Settings
from app.db import GuildDatabaseManager, GuildDb
from app.db.shards import parse_shard_ids
from app.extensions.xp import service_of
from app.ops.ratelimit import UNLIMITED

COUNTER_KEY = "bench.touches"

loader = lightbulb.Loader()
bench = lightbulb.Group("bench", "Benchmark commands (loaded only by scripts/bench_e2e.py)",
                        contexts=GUILD_CONTEXT)


@bench.register
class Touch(lightbulb.SlashCommand, name="touch", description="Read and write one counter in this server's file"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Count one touch in this server."""
        count = await increment_setting_counter(db, COUNTER_KEY, user_id=int(ctx.user.id))
        await ctx.respond(f"touch {count}", ephemeral=True)


@bench.register
class Ping(lightbulb.SlashCommand, name="ping", description="Answer without touching any file (the floor)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Answer at once."""
        await ctx.respond("touch 0 (no database)", ephemeral=True)


loader.command(bench)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the bot with /bench touch against a Discord double.")
    parser.add_argument("--rest-url", required=True, help="the double's REST base URL")
    parser.add_argument("--token", required=True, help="the double's bot token")
    parser.add_argument("--dbs", type=Path, required=True, help="folder of the guild files")
    parser.add_argument("--max-open", type=int, default=128, help="connections kept open")
    parser.add_argument("--lifecycle-threads", type=int, default=None, help="threads opening/closing files")
    parser.add_argument("--query-threads", type=int, default=None, help="threads running statements")
    parser.add_argument("--shard-ids", help="this process's block (SHARD_IDS syntax); needs --shard-count")
    parser.add_argument("--shard-count", type=int, help="the bot's total shard count")
    args = parser.parse_args(argv)
    # The load generator is one client at thousands of commands a second: the budget's hook runs (and is
    # measured) but never refuses, so that every interaction reaches the files the counters are summed from.
    unlimited = UNLIMITED
    settings = Settings(guild_dbs_dir=args.dbs, max_open_guild_dbs=args.max_open, log_level="WARNING",
                        rate_member=unlimited, rate_guild=unlimited, shard_count=args.shard_count,
                        shard_ids=parse_shard_ids(args.shard_ids) if args.shard_ids else None)
    threads = {k: v for k, v in (("lifecycle_threads", args.lifecycle_threads),
                                 ("query_threads", args.query_threads)) if v is not None}
    manager = GuildDatabaseManager(args.dbs, max_open=args.max_open, shards=settings.shard_block,
                                   **threads) if threads else None
    app = BotApp(settings, token=args.token, rest_url=args.rest_url,
                 extensions=[*extension_modules(), "app.sandbox.bench_bot"], manager=manager)

    async def report(_: hikari.StoppingEvent) -> None:
        print(json.dumps({"manager": asdict(app.manager.stats())}), flush=True)

    async def report_xp(_: hikari.StoppedEvent) -> None:  # after the XP writer's last flush
        service = service_of(app.client)
        print(json.dumps({"xp": service.figures.summary() if service else {}}), flush=True)

    app.bot.subscribe(hikari.StoppingEvent, report)
    app.bot.subscribe(hikari.StoppedEvent, report_xp)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
