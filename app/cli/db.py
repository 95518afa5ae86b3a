"""`python -m app db migrate|check`: every database file at once."""
from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.cli.guildfile import identity_problem
from app.cli.output import emit_json, human_bytes, progress, table
from app.config import Settings
from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.db.convert import Conversion, convert_file, needs_conversion
from app.db.files import OpenOptions
from app.db.fleet import CheckResult, GuildFile, check_file, files_to_check, list_guild_files, schema_version_of
from app.db.ids import BOT_FILE_NAME, guild_id_from_path
from app.db.schema import BOT_SCHEMA
from app.engine import describe as describe_engine
from app.errors import BotError, NotFoundError
from app.rights.fanout import file_problem


def register(groups: dict[str, Any]) -> None:
    db = groups["db"]
    p = db.add_parser("migrate", help="bring every guild file to the current schema and page size (resumable)",
                      description="Migrate every guild file to the current schema version, then convert every "
                                  "file whose page size differs from its template's (a verified VACUUM, in "
                                  "place). Files already current are skipped, so an interrupted run can be "
                                  "resumed; a file another process (a running bot) holds open is skipped "
                                  "and reported, never waited for.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=migrate_command)

    p = db.add_parser("check", help="integrity_check on every file; non-zero exit if any fails",
                      description="Run SQLite's integrity_check on every guild file and the bot-wide file.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=check_command)


def _conversion_fields(conversion: Conversion) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "conversion": conversion.outcome, "page_size_before": conversion.page_size_before,
        "page_size": conversion.page_size_after, "bytes_before": conversion.bytes_before,
        "bytes_after": conversion.bytes_after, "convert_ms": round(conversion.seconds * 1000, 3)}
    if conversion.detail:
        fields["conversion_reason"] = conversion.detail
    return fields


async def _convert_guild(manager: GuildDatabaseManager, found: GuildFile) -> Conversion:
    """Under the manager's exclusive hold (this process's own connection closed first) and the file's lock."""
    if not needs_conversion(found.path, GUILD_SCHEMA):
        return convert_file(found.path, GUILD_SCHEMA, identity=found.guild_id)  # reads the header, nothing else
    async with manager.exclusive(found.guild_id) as path:
        return await asyncio.to_thread(convert_file, path, GUILD_SCHEMA, identity=found.guild_id)


async def _migrate_all(settings: Settings, show_bar: bool) -> tuple[list[dict[str, Any]], Conversion | None]:
    results = []
    block = settings.shard_block  # with SHARD_IDS set: only this block's guilds
    mine = [f for f in list_guild_files(settings.guild_dbs_dir) if block is None or block.owns(f.guild_id)]
    # lazy_files: a guild deleted while this runs (guild delete, the retention purge) gets no new, empty file
    async with GuildDatabaseManager(settings.guild_dbs_dir, max_open=settings.max_open_guild_dbs,
                                    shards=block, options=OpenOptions(lazy_files=True)) as manager:
        for found in progress(mine, desc="migrating", enabled=show_bar):
            entry: dict[str, Any] = {"guild_id": found.guild_id}
            try:
                # a file not this guild's own (garbage, empty, copied under another name) is reported and left
                # as it is, as an export or erasure does: opening it here would set it aside
                problem = await asyncio.to_thread(file_problem, found.path, found.guild_id)
                before = schema_version_of(found.path) if problem is None else 0
                if before > GUILD_SCHEMA.version:
                    problem = (f"{found.path.name} has schema version {before}, newer than this bot's "
                               f"{GUILD_SCHEMA.version}")
                if problem is not None:
                    if not found.path.is_file():
                        continue  # deleted meanwhile
                    entry.update(result="failed", error=f"{problem}; it was left as it is.", conversion=None)
                    results.append(entry)
                    continue
                if before == GUILD_SCHEMA.version:
                    entry.update(result="current", version=before)
                else:
                    async with manager.connect(found.guild_id):  # opening migrates under the file's lock
                        pass
                    entry.update(result="migrated", version=GUILD_SCHEMA.version, from_version=before)
                if not found.path.is_file():
                    continue  # deleted meanwhile: nothing left to migrate, left out like an unlisted file
                conversion = await _convert_guild(manager, found)
            except (BotError, sqlite3.DatabaseError, FileNotFoundError) as error:
                if not found.path.is_file() and isinstance(error, NotFoundError | FileNotFoundError):
                    continue  # deleted meanwhile
                entry.update(result="failed", error=getattr(error, "user_message", str(error)), conversion=None)
            else:
                entry.update(_conversion_fields(conversion))
                entry["bytes_before"] = found.size_bytes  # as listed, before this run's readers made side files
                if entry["conversion"] == "current":
                    entry["bytes_after"] = found.size_bytes
            results.append(entry)
    bot_path = settings.guild_dbs_dir / BOT_FILE_NAME
    bot = (await asyncio.to_thread(convert_file, bot_path, BOT_SCHEMA, identity=None)
           if bot_path.is_file() else None)
    return results, bot


def migrate_command(args: argparse.Namespace, settings: Settings) -> int:
    start = time.perf_counter()
    results, bot = asyncio.run(_migrate_all(settings, show_bar=not args.json))
    seconds = time.perf_counter() - start
    failed = [r for r in results if r["result"] == "failed"]
    conversions = [{"name": f"{r['guild_id']}.sqlite3", **r} for r in results if r["conversion"] is not None]
    if bot is not None:
        conversions.append({"name": bot.name, **_conversion_fields(bot)})
    converted = [c for c in conversions if c["conversion"] == "converted"]
    skipped = [{"name": c["name"], "outcome": c["conversion"], "reason": c.get("conversion_reason", "")}
               for c in conversions if c["conversion"] not in ("converted", "current")]
    bytes_before = sum(c["bytes_before"] for c in converted)
    bytes_after = sum(c["bytes_after"] for c in converted)
    convert_seconds = sum(c["convert_ms"] for c in converted) / 1000
    if args.json:
        emit_json({"schema_version": GUILD_SCHEMA.version, "page_size": GUILD_SCHEMA.page_size,
                   "bot_page_size": BOT_SCHEMA.page_size, "guilds": results,
                   "migrated": sum(r["result"] == "migrated" for r in results),
                   "current": sum(r["result"] == "current" for r in results), "failed": len(failed),
                   "converted": len(converted),
                   "conversion_current": sum(c["conversion"] == "current" for c in conversions),
                   "conversion_skipped": skipped, "bytes_before": bytes_before, "bytes_after": bytes_after,
                   "convert_seconds": round(convert_seconds, 3), "seconds": round(seconds, 3),
                   "bot_file": None if bot is None else _conversion_fields(bot)})
    else:
        for r in results:
            detail = (f"{r['from_version']} -> {r['version']}" if r["result"] == "migrated"
                      else r.get("error", f"version {r.get('version')}"))
            pages = ""
            if r["conversion"] == "converted":
                pages = (f"; pages {r['page_size_before']} -> {r['page_size']} bytes, "
                         f"{human_bytes(r['bytes_before'])} -> {human_bytes(r['bytes_after'])}")
            elif r["conversion"] not in (None, "current"):
                pages = f"; not converted ({r['conversion']}: {r['conversion_reason']})"
            print(f"{r['guild_id']}: {r['result']} ({detail}){pages}")
        if bot is not None and bot.outcome != "current":
            print(f"{bot.name}: {bot.outcome} ({bot.page_size_before} -> {bot.page_size_after}-byte pages) "
                  f"{bot.detail}".rstrip())
        print(f"{len(results)} guild file(s): {len(results) - len(failed)} at version "
              f"{GUILD_SCHEMA.version}, {len(failed)} failed.")
        per_file = f", {convert_seconds / len(converted) * 1000:.1f} ms a file" if converted else ""
        print(f"Page size {GUILD_SCHEMA.page_size} bytes: {len(converted)} converted, "
              f"{len(conversions) - len(converted) - len(skipped)} already, {len(skipped)} skipped; "
              f"{human_bytes(bytes_before)} -> {human_bytes(bytes_after)} in {convert_seconds:.1f} s{per_file} "
              f"(whole run {seconds:.1f} s).")
    if failed:
        print(f"{len(failed)} guild file(s) could not be migrated; see the list above.", file=sys.stderr)
    if skipped:
        reasons = ", ".join(f"{n} {o}" for o, n in sorted(Counter(s["outcome"] for s in skipped).items()))
        print(f"{len(skipped)} file(s) keep their old page size ({reasons}); run db migrate again when they "
              "are idle (busy: open in a running bot) or see the list above.", file=sys.stderr)
    return 1 if failed or skipped else 0


def _check(path: Path) -> CheckResult:
    """integrity_check, then, for a guild file, that its meta row names the guild of its file name."""
    result = check_file(path)
    guild_id = guild_id_from_path(path)
    problem = identity_problem(path, guild_id) if result.ok and guild_id is not None else None
    return result if problem is None else CheckResult(result.name, False, problem)


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    paths = files_to_check(settings.guild_dbs_dir)
    if not paths:
        raise NotFoundError(f"There is no guild file and no bot-wide file in {settings.guild_dbs_dir}: "
                            "is GUILD_DBS_DIR the right folder?")
    results = [_check(p) for p in progress(paths, desc="checking", enabled=not args.json)]
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
        print(f"{len(bad)} file(s) failed the check (integrity, or the guild their name says); see the list.",
              file=sys.stderr)
        return 1
    return 0
