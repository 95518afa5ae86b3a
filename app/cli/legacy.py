"""`python -m app legacy status|split|retire`: the legacy database's split and the copies it keeps."""
from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from app.cli.output import emit_json, human_bytes, table
from app.config import Settings
from app.errors import InvalidInputError
from app.legacy.kept import list_kept, list_quarantine, retire, retire_at
from app.legacy.launch import pending_split, split_at_launch
from app.rights.receipts import OPERATOR_CLI


def register(groups: dict[str, Any]) -> None:
    legacy = groups["legacy"]
    p = legacy.add_parser("status", help="the kept legacy copies and split backups: size, age, retirement",
                          description="List every kept copy of the legacy database (set aside after the "
                                      "split) and every split backup, with size and age, and the split's "
                                      "quarantine files.")
    _json_flag(p, status_command)
    p.set_defaults(guild_folder="optional")  # before the first split there is no folder yet
    p = legacy.add_parser("split", help="split LEGACY_DB now, exactly as `run` does at launch",
                          description="Split LEGACY_DB into GUILD_DBS_DIR, verify it, and set the legacy file "
                                      "aside: exactly what `python -m app run` does before connecting.")
    _json_flag(p, split_command)
    p.set_defaults(guild_folder="created")  # like `run`, the split makes GUILD_DBS_DIR
    p = legacy.add_parser("retire", help="remove the kept legacy copies and backups for good, with a receipt",
                          description="Remove every kept legacy copy and split backup (with -wal/-shm) and "
                                      "write a receipt to GUILD_DBS_DIR/receipts/. Done on its own "
                                      "LEGACY_KEEP_DAYS after a verified split.")
    p.add_argument("--yes", action="store_true", help="confirm the removal (required)")
    _json_flag(p, retire_command)


def _json_flag(parser: argparse.ArgumentParser, handler: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handler)


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    root, now = settings.guild_dbs_dir, datetime.now(UTC)
    kept = list_kept(root, settings.legacy_db) + list_quarantine(root)
    due = retire_at(root, settings.legacy_keep_days)
    pending = pending_split(settings)  # exactly when the rights commands refuse (app/cli/rights.py)
    if args.json:
        emit_json({"legacy_db": str(settings.legacy_db), "pending_split": pending is not None,
                   "retire_after": due.isoformat(timespec="seconds") if due else None,
                   "keep_days": settings.legacy_keep_days, "files": [k.as_dict(now) for k in kept]})
        return 0
    if pending is not None:
        print(f"{pending} is not split yet: `python -m app legacy split` (or `run`) splits it.")
    if not kept:
        print("No kept legacy copy, split backup or quarantine file.")
        return 0
    print(table(("file", "kind", "size", "age (days)"),
                ((k.path, k.kind, human_bytes(k.size_bytes), f"{k.age_days(now):.1f}") for k in kept)))
    if due is not None:
        print(f"Kept copies and backups are retired on their own after {due:%Y-%m-%d %H:%M} UTC "
              f"(LEGACY_KEEP_DAYS={settings.legacy_keep_days}); quarantine files stay.")
    return 0


def split_command(args: argparse.Namespace, settings: Settings) -> int:
    report = split_at_launch(settings)
    if report is None:
        legacy = settings.legacy_db
        message = (f"Nothing to split: {legacy} is empty (0 bytes); delete it, or point LEGACY_DB elsewhere."
                   if legacy.exists() else f"Nothing to split: {legacy} does not exist (split and set aside before?).")
        emit_json({"status": "nothing-to-split", "message": message}) if args.json else print(message)
        return 0
    emit_json(report.to_json()) if args.json else print(report.render())
    return 0


def retire_command(args: argparse.Namespace, settings: Settings) -> int:
    root = settings.guild_dbs_dir
    kept = list_kept(root, settings.legacy_db)
    if not args.yes:
        raise InvalidInputError(f"This removes {len(kept)} kept legacy file(s) for good: add --yes to confirm.")
    receipt = retire(root, kept, requested_by=OPERATOR_CLI, reason="python -m app legacy retire")
    if args.json:
        emit_json({"removed": [str(k.path) for k in kept], "bytes_deleted": sum(k.size_bytes for k in kept),
                   "receipt": str(receipt) if receipt else None})
    elif not kept:
        print("No kept legacy copy or split backup to retire.")
    else:
        for k in kept:
            print(f"removed {k.path} ({k.kind}, {human_bytes(k.size_bytes)})")
        print(f"Retired {len(kept)} file(s); receipt {receipt}.")
    return 0
