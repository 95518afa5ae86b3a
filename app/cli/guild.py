"""`python -m app guild list|info`: what the guild folder holds."""
from __future__ import annotations

import argparse
from typing import Any

from app.cli.guildfile import require_own_file
from app.cli.output import emit_json, human_bytes, table
from app.config import Settings
from app.db import parse_guild_id
from app.db.fleet import guild_info, list_guild_files
from app.ops.quota import used_fraction


def register(groups: dict[str, Any]) -> None:
    guild = groups["guild"]
    p = guild.add_parser("list", help="every guild file: id, size, last modified",
                         description="List every guild database file in GUILD_DBS_DIR.")
    p.add_argument("--over", type=_percent, metavar="PERCENT",
                   help="only the files using at least PERCENT (e.g. 80%%) of their quota, MAX_GUILD_DB_MB")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=list_command)

    p = guild.add_parser("info", help="one guild file: size, schema version, rows per table",
                         description="Show one guild's database file.")
    p.add_argument("guild_id", help="the Discord server id")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=info_command)


def _percent(text: str) -> float:
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage such as 80%") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage between 0% and 1000%")
    return value


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    max_mb = settings.max_guild_db_mb
    found = list_guild_files(settings.guild_dbs_dir)
    if args.over is not None:
        found = [f for f in found if used_fraction(f.size_bytes, max_mb) * 100 >= args.over]
    if args.json:
        emit_json({"max_guild_db_mb": max_mb, "guilds": [
            {"guild_id": f.guild_id, "size_bytes": f.size_bytes, "modified": f.modified.isoformat(),
             "quota_used": round(used_fraction(f.size_bytes, max_mb), 4)} for f in found]})
        return 0
    if not found:
        over = "" if args.over is None else f" at {args.over:g}% of MAX_GUILD_DB_MB ({max_mb} MB) or more"
        print(f"No guild files{over} in {settings.guild_dbs_dir}.")
        return 0
    print(table(("guild id", "size", f"of {max_mb} MB", "last modified (UTC)"),
                ((f.guild_id, human_bytes(f.size_bytes), f"{used_fraction(f.size_bytes, max_mb):.0%}",
                  f.modified.strftime("%Y-%m-%d %H:%M:%S")) for f in found)))
    print(f"{len(found)} guild file(s), {human_bytes(sum(f.size_bytes for f in found))} in all.")
    return 0


def info_command(args: argparse.Namespace, settings: Settings) -> int:
    guild_id = parse_guild_id(args.guild_id)
    require_own_file(settings.guild_dbs_dir / f"{guild_id}.sqlite3", guild_id)
    info = guild_info(settings.guild_dbs_dir, guild_id)
    if args.json:
        emit_json({"guild_id": info.guild_id, "path": str(info.path), "size_bytes": info.size_bytes,
                   "schema_version": info.schema_version, "tables": info.tables})
        return 0
    print(f"guild {info.guild_id}: {info.path}")
    print(f"size {human_bytes(info.size_bytes)}, schema version {info.schema_version}")
    print(table(("table", "rows"), sorted(info.tables.items())))
    return 0
