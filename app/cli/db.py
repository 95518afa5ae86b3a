"""`python -m app db migrate|check`: every database file at once."""
from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from typing import Any

from app.cli.output import emit_json, progress, table
from app.config import Settings
from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.db.fleet import check_file, files_to_check, list_guild_files, schema_version_of
from app.engine import describe as describe_engine
from app.errors import BotError, NotFoundError


def register(groups: dict[str, Any]) -> None:
    db = groups["db"]
    p = db.add_parser("migrate", help="bring every guild file to the current schema (resumable)",
                      description="Migrate every guild file to the current schema version. Files "
                                  "already current are skipped, so an interrupted run can be resumed.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=migrate_command)

    p = db.add_parser("check", help="integrity_check on every file; non-zero exit if any fails",
                      description="Run SQLite's integrity_check on every guild file and the bot-wide file.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=check_command)


async def _migrate_all(settings: Settings, show_bar: bool) -> list[dict[str, Any]]:
    results = []
    block = settings.shard_block  # with SHARD_IDS set: only this block's guilds
    mine = [f for f in list_guild_files(settings.guild_dbs_dir) if block is None or block.owns(f.guild_id)]
    async with GuildDatabaseManager(settings.guild_dbs_dir, max_open=settings.max_open_guild_dbs,
                                    shards=block) as manager:
        for found in progress(mine, desc="migrating", enabled=show_bar):
            entry: dict[str, Any] = {"guild_id": found.guild_id}
            try:
                before = schema_version_of(found.path)
                if before >= GUILD_SCHEMA.version:
                    entry.update(result="current", version=before)
                else:
                    async with manager.connect(found.guild_id):  # opening migrates under the file's lock
                        pass
                    entry.update(result="migrated", version=GUILD_SCHEMA.version, from_version=before)
            except (BotError, sqlite3.DatabaseError) as error:
                entry.update(result="failed", error=getattr(error, "user_message", str(error)))
            results.append(entry)
    return results


def migrate_command(args: argparse.Namespace, settings: Settings) -> int:
    results = asyncio.run(_migrate_all(settings, show_bar=not args.json))
    failed = [r for r in results if r["result"] == "failed"]
    if args.json:
        emit_json({"schema_version": GUILD_SCHEMA.version, "guilds": results,
                   "migrated": sum(r["result"] == "migrated" for r in results),
                   "current": sum(r["result"] == "current" for r in results), "failed": len(failed)})
    else:
        for r in results:
            detail = (f"{r['from_version']} -> {r['version']}" if r["result"] == "migrated"
                      else r.get("error", f"version {r.get('version')}"))
            print(f"{r['guild_id']}: {r['result']} ({detail})")
        print(f"{len(results)} guild file(s): {len(results) - len(failed)} at version "
              f"{GUILD_SCHEMA.version}, {len(failed)} failed.")
    if failed:
        print(f"{len(failed)} guild file(s) could not be migrated; see the list above.", file=sys.stderr)
        return 1
    return 0


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    paths = files_to_check(settings.guild_dbs_dir)
    if not paths:
        raise NotFoundError(f"There is no guild file and no bot-wide file in {settings.guild_dbs_dir}: "
                            "is GUILD_DBS_DIR the right folder?")
    results = [check_file(p) for p in progress(paths, desc="checking", enabled=not args.json)]
    bad = [r for r in results if not r.ok]
    if args.json:
        emit_json({"sqlite_version": sqlite3.sqlite_version, "sqlite_engine": describe_engine().name,
                   "checked": len(results), "failed": len(bad),
                   "files": [{"name": r.name, "ok": r.ok, "detail": r.detail} for r in results]})
    else:
        print(describe_engine())
        if bad:
            print(table(("file", "problem"), ((r.name, r.detail) for r in bad)))
        print(f"{len(results)} file(s) checked, {len(bad)} failed.")
    if bad:
        print(f"{len(bad)} file(s) failed the integrity check.", file=sys.stderr)
        return 1
    return 0
