"""`python -m app shards plan --count N`: which guild files go to which block under N shards, and, given the
current count, which move."""
from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import emit_json, table
from app.config import Settings
from app.db.fleet import list_guild_files
from app.db.shards import MAX_SHARDS, block_ranges, describe, plan_moves
from app.errors import ConfigurationError


def register(groups: dict[str, Any]) -> None:
    shards = groups[""].add_parser("shards", help="shard blocks: plan a new shard count",
                                   description="Commands on shard blocks (SHARD_IDS / SHARD_COUNT).")
    sub = shards.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("plan", help="which guild files move to which block for a new shard count",
                       description="For the separate-folders layout: list, for every guild file in "
                                   "GUILD_DBS_DIR, its shard and block under the current SHARD_COUNT and "
                                   "under --count N, with --blocks processes splitting the shards in "
                                   "contiguous ranges. Nothing is moved.")
    p.add_argument("--count", type=_whole, required=True, metavar="N", help="the new shard count")
    p.add_argument("--from-count", type=_whole, metavar="M",
                   help="the current shard count (default SHARD_COUNT; neither: each file's block, no moves)")
    p.add_argument("--blocks", type=_whole, default=1, metavar="B", help="processes (shard blocks), default 1")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=plan_command, guild_folder="existing")


def _whole(text: str) -> int:
    """A count typed in ASCII digits (`int` alone also takes `٤` or `４`, which no guild id accepts)."""
    stripped = text.strip()
    digits = stripped.removeprefix("-")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 30:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number")
    return int(stripped)


def plan_command(args: argparse.Namespace, settings: Settings) -> int:
    old_count = args.from_count if args.from_count is not None else settings.shard_count
    for name, value in (("--count", args.count), ("--from-count", old_count)):
        if value is not None and not 1 <= value <= MAX_SHARDS:
            raise ConfigurationError(f"{name} must be between 1 and {MAX_SHARDS}.")
    known = old_count is not None  # else (SHARD_COUNT=auto, no --from-count): where each file goes, no moves
    guild_ids = [f.guild_id for f in list_guild_files(settings.guild_dbs_dir)]
    plan = plan_moves(guild_ids, old_count=old_count or args.count, new_count=args.count, blocks=args.blocks)
    new_blocks = [describe(tuple(r)) for r in block_ranges(args.count, args.blocks)]
    moving = [m for m in plan if m.moves]
    if args.json:
        emit_json({"from_count": old_count, "count": args.count, "blocks": new_blocks,
                   "files": len(plan), "moving": len(moving) if known else None,
                   "moves": [{"guild_id": m.guild_id, "file": f"{m.guild_id}.sqlite3",
                              "from_shard": m.old_shard if known else None, "to_shard": m.new_shard,
                              "from_block": m.old_block if known else None, "to_block": m.new_block}
                             for m in plan]})
        return 0
    for k, shards in enumerate(new_blocks):
        print(f"block {k}: SHARD_IDS={shards} SHARD_COUNT={args.count}")
    if not known:
        if plan:
            print(table(("file", "shard", "block"), ((f"{m.guild_id}.sqlite3", str(m.new_shard), str(m.new_block))
                                                     for m in plan)))
        print(f"{len(plan)} guild file(s) under SHARD_COUNT={args.count}; to see which move, give the current "
              "count (SHARD_COUNT or --from-count M).")
        return 0
    if moving:
        print(table(("file", "shard", "block"), ((f"{m.guild_id}.sqlite3", f"{m.old_shard} -> {m.new_shard}",
                                                   f"{m.old_block} -> {m.new_block}") for m in moving)))
    print(f"{len(plan)} guild file(s), {len(moving)} move to another block's folder "
          "(stop every process before moving them; a shared folder needs no move).")
    return 0
