"""`backup --out DIR`: a dated generation per run; unchanged files are hard links to the previous one.

DIR/<YYYYmmddTHHMMSSffffffZ>/ holds the copies and manifest.json (sizes, SHA-256, the source's state).
A file whose source did not change since the previous generation is linked, not copied (incremental);
a guild whose file is gone (deleted by its admins, purged after retention) is left out of the new
generation, and generations older than BACKUP_RETENTION_DAYS are removed (the newest always stays):
older backups keep a deleted guild at most that long. A file SQLite cannot read (damaged, not a database) is
left out and named, the others are backed up, and no older generation is removed in that run: one of them may
hold its last good copy.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.backup.copy import Entry, online_copy, sha256_of, source_signature
from app.db.fleet import list_guild_files
from app.db.ids import BOT_FILE_NAME
from app.errors import NotFoundError
from app.rights.atomic import private_dir

MANIFEST = "manifest.json"
STAMP = "%Y%m%dT%H%M%S%fZ"
Progress = Callable[[list[Path]], Iterable[Path]]


@dataclass(slots=True)
class BackupReport:
    generation: Path
    copied: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # in the previous generation, gone from the folder
    pruned: list[str] = field(default_factory=list)  # generations past BACKUP_RETENTION_DAYS
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, SQLite's reason): unreadable, left out
    bytes_copied: int = 0


def generations(out: Path) -> list[Path]:
    """Complete generations (with a manifest), oldest first."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def latest_generation(backup: Path) -> Path:
    """`backup` itself if it is a generation, else its newest generation.

    Raises:
        NotFoundError: no manifest there.
    """
    if (backup / MANIFEST).is_file():
        return backup
    found = generations(backup)
    if not found:
        raise NotFoundError(f"There is no backup in {backup} (no {MANIFEST} in it or in a folder under it).")
    return found[-1]


def read_manifest(generation: Path) -> dict[str, Entry]:
    data = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    return {e["name"]: Entry(**e) for e in data["files"]}


def _sources(root: Path) -> list[Path]:
    paths = [f.path for f in list_guild_files(root)]
    bot = root / BOT_FILE_NAME
    return [*paths, bot] if bot.is_file() else paths


def backup_folder(root: Path, out: Path, *, retention_days: int, now: datetime | None = None,
                  progress: Progress = list) -> BackupReport:
    """Back up every guild file and the bot-wide file of `root` into a new generation under `out`."""
    moment = now or datetime.now(UTC)
    previous = generations(out)
    before = read_manifest(previous[-1]) if previous else {}
    target = private_dir(out / moment.strftime(STAMP))
    report = BackupReport(target)
    entries = []
    for source in progress(_sources(root)):
        signature = source_signature(source)
        old = before.get(source.name)
        if old is not None and old.source == signature and (previous[-1] / old.name).is_file():
            _link_or_copy(previous[-1] / old.name, target / source.name)
            entries.append(old)
            report.linked.append(source.name)
            continue
        try:
            online_copy(source, target / source.name)
        except FileNotFoundError:
            continue  # deleted while the backup ran
        except sqlite3.DatabaseError as error:  # damaged, or not a database: the others are still backed up
            report.failed.append((source.name, str(error)))
            continue
        copy = target / source.name
        entries.append(Entry(source.name, copy.stat().st_size, sha256_of(copy), signature, moment.isoformat()))
        report.copied.append(source.name)
        report.bytes_copied += entries[-1].size
    names = {e.name for e in entries}
    unreadable = {name for name, _ in report.failed}
    report.dropped = sorted(n for n in before if n not in names and n not in unreadable)
    manifest = {"created_at": moment.isoformat(), "root": str(root.resolve()),
                "files": [e.as_dict() for e in entries]}
    partial = target / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(partial, target / MANIFEST)  # the generation is complete only with its manifest
    if not report.failed:  # else an older generation may hold the last good copy of a damaged file: kept
        report.pruned = _prune(out, keep=target, older_than=moment - timedelta(days=retention_days))
    return report


def _link_or_copy(existing: Path, new: Path) -> None:
    try:
        os.link(existing, new)  # the copies never change once written: generations can share them
    except OSError:
        shutil.copy2(existing, new)  # a filesystem without hard links


def _prune(out: Path, *, keep: Path, older_than: datetime) -> list[str]:
    pruned = []
    for generation in generations(out):
        made = datetime.strptime(generation.name, STAMP).replace(tzinfo=UTC)
        if generation != keep and made < older_than:
            shutil.rmtree(generation)
            pruned.append(generation.name)
    return pruned
