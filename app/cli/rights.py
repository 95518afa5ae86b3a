"""Data rights for the operator: guild export|delete|purge-expired|receipts, user export|forget."""
from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from app.cli.guildfile import require_not_folder, require_outside, require_writable_target
from app.cli.output import emit_json, human_bytes, progress, table
from app.config import Settings
from app.db import GuildDatabaseManager, parse_guild_id
from app.errors import InvalidInputError, NotFoundError, UserFacingError
from app.rights.export import FORMATS, export_guild
from app.rights.fanout import FanoutReport, export_user, file_problem, forget_user, parse_user_id
from app.rights.guild_delete import delete_guild
from app.rights.receipts import OPERATOR_CLI, list_receipts
from app.rights.retention import purge_expired
from app.shared.store import STORE_FILE_NAME

T = TypeVar("T")
MAX_REASON = 500


def register(groups: dict[str, Any]) -> None:
    _register_guild(groups["guild"])
    _register_user(groups["user"])


def _register_guild(guild: Any) -> None:
    p = guild.add_parser("export", help="a consistent snapshot of one guild's file (sqlite or json zip)",
                         description="Export one guild's database while the bot keeps running: a single "
                                     "SQLite file, or a zip with one readable JSON file per table.")
    p.add_argument("guild_id", help="the Discord server id")
    p.add_argument("--out", required=True, type=Path, help="the file to write (must not exist)")
    p.add_argument("--format", choices=FORMATS, default="sqlite", help="sqlite (default) or json")
    _json_flag(p, export_command)

    p = guild.add_parser("delete", help="delete one guild's file, with a receipt",
                         description="Delete one guild's database file and its -wal/-shm, once work in "
                                     "flight is done; a receipt (no content) goes to the bot-wide file.")
    p.add_argument("guild_id", help="the Discord server id")
    p.add_argument("--yes", action="store_true", help="confirm the deletion (required)")
    p.add_argument("--reason", type=_reason, default="deletion requested to the operator",
                   help=f"recorded on the receipt (one line, at most {MAX_REASON} characters)")
    _json_flag(p, delete_command)

    p = guild.add_parser("purge-expired", help="delete files of guilds the bot left past RETENTION_DAYS",
                         description="Delete the file of every guild whose retention period after the bot "
                                     "left is over, unless the bot was added back.")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, change nothing")
    _json_flag(p, purge_command)

    p = guild.add_parser("receipts", help="deletion receipts (who asked, when, how much)",
                         description="List the deletion receipts in the bot-wide file.")
    p.add_argument("guild_id", nargs="?", help="only this server's receipts")
    _json_flag(p, receipts_command)


def _reason(text: str) -> str:
    """A receipt's reason: one line of printable text, short enough for the receipts table."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the reason is empty")
    if len(text) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"the reason is {len(text)} characters long, more than {MAX_REASON}")
    if not text.isprintable():
        raise argparse.ArgumentTypeError("the reason holds a line break or another control character")
    return text


def _register_user(user: Any) -> None:
    p = user.add_parser("export", help="one member's rows in every guild file, as JSON (resumable)",
                        description="Write the member's own rows of every guild to DIR/guild-<id>.json.")
    p.add_argument("user_id", help="the Discord user id")
    p.add_argument("--out", required=True, type=Path, help="the folder to write into")
    _json_flag(p, user_export_command)

    p = user.add_parser("forget", help="erase one member in every guild file (resumable)",
                        description="Erase the member's rows in every guild; references to them in other "
                                    "members' rows become empty. One receipt per guild touched.")
    p.add_argument("user_id", help="the Discord user id")
    p.add_argument("--yes", action="store_true", help="confirm the erasure (required)")
    _json_flag(p, user_forget_command)


def _json_flag(parser: argparse.ArgumentParser, handler: Callable[..., int]) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handler)


def _run(settings: Settings, job: Callable[[GuildDatabaseManager], Awaitable[T]]) -> T:
    async def main() -> T:
        async with GuildDatabaseManager(settings.guild_dbs_dir,
                                        max_open=settings.max_open_guild_dbs) as manager:
            return await job(manager)
    return asyncio.run(main())


def _require_file(settings: Settings, guild_id: int) -> None:
    path = settings.guild_dbs_dir / f"{guild_id}.sqlite3"
    require_not_folder(path)
    if not path.is_file():
        raise NotFoundError(f"Server {guild_id} has no data file in {settings.guild_dbs_dir}.")
    # opening it through the manager would set a misnamed file aside: an export changes nothing
    if (problem := file_problem(path, guild_id)) is not None:
        raise UserFacingError(f"{problem}: nothing was exported, and the file was left as it is.")


def _refuse_before_split(settings: Settings) -> None:
    """Raises:
        UserFacingError: `LEGACY_DB` still waits for its split, which would bring back what is erased or deleted
            now, and holds rows an export now would lack.
    """
    from app.legacy.launch import pending_split  # the splitter's area

    if (legacy := pending_split(settings)) is not None:
        raise UserFacingError(f"The legacy database {legacy} (LEGACY_DB) is not split yet, so its rows are not in "
                              "the guild files (an erasure or deletion now would come back with the split, an export "
                              "would lack them): run `python -m app legacy split` first, then this command again.")


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    guild_id = parse_guild_id(args.guild_id)
    _refuse_before_split(settings)
    _require_file(settings, guild_id)  # an export never creates a file
    require_outside(args.out, settings.guild_dbs_dir)
    require_writable_target(args.out)

    async def job(manager: GuildDatabaseManager) -> Any:
        async with manager.connect(guild_id) as db:
            return await export_guild(db, args.out, fmt=args.format)

    result = _run(settings, job)
    if args.json:
        emit_json(result.as_dict())
    else:
        rate = result.bytes_written / max(result.seconds, 1e-9) / 2**20
        print(f"Exported server {guild_id} to {result.path} ({args.format}, "
              f"{human_bytes(result.bytes_written)}, {sum(result.tables.values())} rows, "
              f"{result.seconds * 1000:.0f} ms, {rate:.0f} MiB/s).")
    return 0


def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    guild_id = parse_guild_id(args.guild_id)
    if not args.yes:
        raise InvalidInputError(f"This deletes all data of server {guild_id}: add --yes to confirm.")
    _refuse_before_split(settings)
    require_not_folder(settings.guild_dbs_dir / f"{guild_id}.sqlite3")
    deletion = _run(settings, lambda m: delete_guild(m, guild_id, requested_by=OPERATOR_CLI,
                                                     reason=args.reason))
    if args.json:
        emit_json(deletion.as_dict())
    else:
        for name in deletion.set_aside:
            print(f"removed {name} (a damaged copy set aside earlier)")
        for name, rows in sorted(deletion.legacy_files.items()):
            print(f"{name}: {rows} row(s) of server {guild_id} erased")
        print(f"Deleted server {guild_id}'s data ({human_bytes(deletion.bytes_deleted)}, "
              f"{deletion.rows_deleted} rows); receipt #{deletion.receipt.id}.")
    return 0


def purge_command(args: argparse.Namespace, settings: Settings) -> int:
    if not args.dry_run:
        _refuse_before_split(settings)  # the split would bring back the servers purged now
    results = _run(settings, lambda m: purge_expired(m, dry_run=args.dry_run))
    failed = [r for r in results if r.outcome == "failed"]
    if args.json:
        emit_json({"dry_run": args.dry_run, "guilds": [r.as_dict() for r in results],
                   "deleted": sum(r.outcome == "deleted" for r in results), "failed": len(failed)})
    elif not results:
        print("No guild's retention period is over.")
    else:
        print(table(("guild id", "left at", "purge after", "outcome", "size"),
                    ((r.guild_id, r.left_at or "", r.purge_after or "", r.outcome,
                      human_bytes(r.bytes_deleted) if r.outcome == "deleted" else "") for r in results)))
    return 1 if failed else 0


def receipts_command(args: argparse.Namespace, settings: Settings) -> int:
    guild_id = parse_guild_id(args.guild_id) if args.guild_id is not None else None

    async def job(manager: GuildDatabaseManager) -> Any:
        async with manager.connect_bot() as bot_db:
            return await list_receipts(bot_db, guild_id=guild_id)

    receipts = _run(settings, job)
    if args.json:
        emit_json({"receipts": [r.as_dict() for r in receipts]})
        return 0
    print(table(("#", "when", "scope", "guild", "user", "asked by", "bytes", "rows", "reason"),
                ((r.id, r.deleted_at, r.scope, "every guild" if r.guild_id is None else r.guild_id,
                  r.user_id or "", r.requested_by, r.bytes_deleted, r.rows_deleted, r.reason) for r in receipts)))
    return 0


def _bar(args: argparse.Namespace, desc: str) -> Any:
    return functools.partial(progress, desc=desc, enabled=not args.json)


def _print_report(report: FanoutReport, args: argparse.Namespace, verb: str) -> int:
    if args.json:
        emit_json(report.as_dict())
    else:
        for guild_id in report.touched:
            print(f"{guild_id}: {report.rows[guild_id]} row(s) {verb}")
        for guild_id, error in sorted(report.failed.items()):
            print(f"{guild_id}: failed: {error}")
        for name, rows in sorted(report.legacy_files.items()):
            print(f"{name}: {rows} row(s) {verb}")
        if report.published_removed:
            print(f"{STORE_FILE_NAME}: the member's published cross-server row and joins withdrawn")
        print(f"User {report.user_id}: {len(report.touched)} of {report.guilds_total} guild(s) touched, "
              f"{sum(report.rows.values())} row(s) {verb}"
              + (f", {report.resumed} guild(s) done by an earlier run" if report.resumed else "") + ".")
    if report.legacy_failed:
        print(f"Kept legacy files: {report.legacy_failed}; run the same command again.", file=sys.stderr)
    if report.failed:
        print(f"{len(report.failed)} guild(s) failed; run the same command again to retry them.",
              file=sys.stderr)
    return 1 if report.failed or report.legacy_failed else 0


def user_export_command(args: argparse.Namespace, settings: Settings) -> int:
    user_id = parse_user_id(args.user_id)
    require_outside(args.out, settings.guild_dbs_dir)
    _refuse_before_split(settings)
    report = _run(settings, lambda m: export_user(m, user_id, args.out, progress=_bar(args, "exporting")))
    return _print_report(report, args, "exported")


def user_forget_command(args: argparse.Namespace, settings: Settings) -> int:
    user_id = parse_user_id(args.user_id)
    if not args.yes:
        raise InvalidInputError(f"This erases user {user_id}'s data in every server: add --yes to confirm.")
    _refuse_before_split(settings)
    report = _run(settings, lambda m: forget_user(m, user_id, progress=_bar(args, "erasing")))
    return _print_report(report, args, "erased")
