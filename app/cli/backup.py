"""`python -m app backup --out DIR` and `python -m app restore --from DIR [--guild ID] [--force]`."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.backup import backup_folder, restore_files
from app.backup.generations import latest_generation
from app.backup.restore import RestoreResult
from app.cli.guildfile import require_outside
from app.cli.output import emit_json, human_bytes, progress, table
from app.config import Settings
from app.db.files import make_folder
from app.db.fleet import files_to_check
from app.db.ids import parse_guild_id
from app.errors import ConfigurationError, NotFoundError


def register(groups: dict[str, Any]) -> None:
    top = groups[""]
    p = top.add_parser("backup", help="online, incremental backup of every guild file and the bot-wide file",
                       description="Copy every guild file and the bot-wide file into a new dated folder "
                                   "under DIR while the bot keeps running (SQLite's backup API: a consistent "
                                   "copy, never a byte copy of a live file). Files unchanged since the "
                                   "previous backup in DIR are hard links to it. manifest.json lists sizes "
                                   "and SHA-256. Guilds whose file is gone are left out; backups older than "
                                   "BACKUP_RETENTION_DAYS are removed (the newest always stays).")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the backup folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=backup_command, guild_folder="existing")

    p = top.add_parser("restore", help="put verified backup copies back (refuses newer files without --force)",
                       description="Restore every file (or one guild's) from the newest backup in DIR (or "
                                   "from DIR itself if it is one dated backup). Each copy is verified first "
                                   "(SHA-256, integrity_check, its guild id). A live file modified after the "
                                   "backup is kept unless --force. A guild deleted since stays deleted (only "
                                   "--guild ID --force brings it back); members erased since are erased from "
                                   "the copy first. Safe beside a running bot: an existing "
                                   "file is written into through SQLite (the bot's open connections read "
                                   "the restored rows next); a file being written at that moment is "
                                   "refused at once (\"in use\"): try again.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="source", type=Path, metavar="DIR", help="the backup folder")
    source.add_argument("--from-replica", action="store_true",
                        help="restore from LITESTREAM_REPLICA_URL with `litestream restore` instead")
    p.add_argument("--guild", metavar="ID", help="restore only this guild's file")
    p.add_argument("--force", action="store_true",
                   help="overwrite files modified after the backup (with --guild: also a guild deleted since)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=restore_command, guild_folder="created")


def backup_command(args: argparse.Namespace, settings: Settings) -> int:
    require_outside(args.out, settings.guild_dbs_dir)  # a backup beside what it backs up is none
    if not files_to_check(settings.guild_dbs_dir):  # an empty backup would become the newest one
        raise NotFoundError(f"There is no guild file and no bot-wide file in {settings.guild_dbs_dir} to back up: "
                            "is GUILD_DBS_DIR the right folder?")

    def bar(paths: list[Path]) -> Iterable[Path]:
        return progress(paths, desc="backing up", enabled=not args.json)

    report = backup_folder(settings.guild_dbs_dir, args.out, retention_days=settings.backup_retention_days,
                           progress=bar)
    if args.json:
        emit_json({"backup": str(report.generation), "copied": report.copied, "linked": report.linked,
                   "dropped": report.dropped, "pruned": report.pruned, "held": report.held,
                   "set_aside": report.set_aside, "incomplete": report.incomplete,
                   "bytes_copied": report.bytes_copied,
                   "failed": [{"name": name, "error": error} for name, error in report.failed]})
    else:
        print(f"Backup {report.generation}: {len(report.copied)} file(s) copied "
              f"({human_bytes(report.bytes_copied)}), {len(report.linked)} unchanged.")
        if report.dropped:
            print(f"Left out (their guild's file is gone): {', '.join(report.dropped)}")
        if report.pruned:
            print(f"Removed backups older than {settings.backup_retention_days} day(s): {', '.join(report.pruned)}")
        if report.incomplete:
            print(f"Removed backups left without a manifest (a run stopped half-way): {', '.join(report.incomplete)}")
        if report.set_aside:
            print("Set aside by the bot as damaged (their last copy from before is kept): "
                  f"{', '.join(report.set_aside)}")
        for generation, kept in report.held.items():
            print(f"Kept of {generation}, past the retention, only the last good copy of {', '.join(kept)}.")
        if report.failed:
            print(table(("file", "could not be read"), report.failed))
    if report.failed:
        names = ", ".join(name for name, _ in report.failed)
        print(f"{len(report.failed)} file(s) could not be read and were left out of {report.generation}: {names}; "
              "run `python -m app db check`.", file=sys.stderr)
        return 1
    return 0


def restore_command(args: argparse.Namespace, settings: Settings) -> int:
    guild_id = parse_guild_id(args.guild) if args.guild is not None else None
    make_folder(settings.guild_dbs_dir)  # a new disk: the folder itself may be gone
    if args.from_replica:
        if settings.litestream_replica_url is None:
            raise ConfigurationError("--from-replica needs LITESTREAM_REPLICA_URL (file:///path or s3://bucket/prefix).")
        from app.replicate.restore import restore_from_replica

        where = settings.litestream_replica_url
        results = restore_from_replica(settings.guild_dbs_dir, settings.litestream_replica_url,
                                       guild_id=guild_id, force=args.force)
    else:
        generation = latest_generation(args.source)
        where = str(generation)
        results = restore_files(settings.guild_dbs_dir, generation, guild_id=guild_id, force=args.force)
    # a guild deleted after the backup stays deleted: expected in a whole restore, a refusal when asked for by name
    failed = [r for r in results if r.outcome not in ("restored", "unchanged")
              and (r.outcome != "deleted" or guild_id is not None)]
    if args.json:
        emit_json({"backup": where, "files": [{"name": r.name, "outcome": r.outcome,
                                                          "detail": r.detail} for r in results]})
    else:
        print(table(("file", "outcome", "detail"), ((r.name, r.outcome, r.detail) for r in results)))
        print(_summary(results, where, failed))
    if failed:
        print(f"{len(failed)} file(s) not restored; see the list above.", file=sys.stderr)
        return 1
    return 0


def _summary(results: list[RestoreResult], where: str, failed: list[RestoreResult]) -> str:
    """How many files were restored, with those already as in the backup and those deleted since (kept deleted)."""
    counts = Counter(r.outcome for r in results)
    kept_deleted = counts["deleted"] - sum(r.outcome == "deleted" for r in failed)  # not a refusal: a whole restore's
    notes = [note for n, note in ((counts["unchanged"], f"{counts['unchanged']} already as in it"),
                                  (kept_deleted, f"{kept_deleted} deleted since (stays deleted)")) if n]
    return f"{counts['restored']} of {len(results)} file(s) restored from {where}" + "".join(f", {n}" for n in notes) \
        + "."
