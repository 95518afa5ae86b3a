"""`python -m app global rebuild`: the cross-server figures recomputed from the guild files."""
from __future__ import annotations

import argparse
import asyncio
import functools
from datetime import UTC, datetime
from typing import Any

from app.cli.output import emit_json, progress
from app.config import Settings
from app.db import GuildDatabaseManager
from app.shared.rebuild import RebuildReport, rebuild_store


def register(groups: dict[str, Any]) -> None:
    p = groups["global"].add_parser(
        "rebuild", help="recompute the shared-aggregates file from every sharing server's file",
        description="Recompute every sharing server's and joined member's figures from the guild files and "
                    "report any difference from the values published incrementally. Safe while the bot runs.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=rebuild_command)


def rebuild_command(args: argparse.Namespace, settings: Settings) -> int:
    bar = functools.partial(progress, desc="servers", enabled=not args.json)

    async def main() -> RebuildReport:
        async with GuildDatabaseManager(settings.guild_dbs_dir, max_open=settings.max_open_guild_dbs) as manager:
            return await rebuild_store(manager, datetime.now(UTC), progress=bar)

    report = asyncio.run(main())
    if args.json:
        emit_json(report.as_dict())
        return 0
    for line in report.differences:
        print(line)
    for guild_id in report.withdrawn:
        print(f"server {guild_id}: shared, but its file is gone: withdrawn")
    verdict = f"{len(report.differences)} difference(s)" if report.differences else "no difference"
    print(f"Rebuilt {report.servers} sharing server(s) and {report.members} member(s) from "
          f"{report.guild_files} guild file(s): {verdict} from the incremental values.")
    return 0
