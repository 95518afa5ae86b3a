"""`backup --out DIR`: a dated generation per run; unchanged files are hard links to the previous one.

DIR/<YYYYmmddTHHMMSSffffffZ>/ holds the copies and manifest.json (sizes, SHA-256, the source's state).
A file whose source did not change since the previous generation is linked, not copied (incremental);
a guild whose file is gone (deleted by its admins, purged after retention) is left out of the new
generation, and generations older than BACKUP_RETENTION_DAYS are removed (the newest always stays):
older backups keep a deleted guild at most that long. A file SQLite cannot read (damaged, not a database) is
left out and named, and the others are backed up. Its last good copy is kept past the retention, alone: the
generation that holds it is cut down to it (its manifest first), so that one damaged file never keeps anything
else, a deleted guild or an erased member, longer than BACKUP_RETENTION_DAYS.
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
    held: dict[str, list[str]] = field(default_factory=dict)  # generation past retention -> last good copies kept
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
    report.pruned, report.held = _prune(out, keep=target, older_than=moment - timedelta(days=retention_days),
                                        unreadable=unreadable)
    return report


def _link_or_copy(existing: Path, new: Path) -> None:
    try:
        os.link(existing, new)  # the copies never change once written: generations can share them
    except OSError:
        shutil.copy2(existing, new)  # a filesystem without hard links


def _prune(out: Path, *, keep: Path, older_than: datetime,
           unreadable: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Remove the generations made before `older_than` (never `keep`); one holding the newest copy of an
    `unreadable` file is cut down to those copies instead. Returns (removed, {cut down: copies kept})."""
    found = [g for g in generations(out) if g != keep]
    last_good = {name: g for g in found for name in read_manifest(g) if name in unreadable}  # newest wins
    pruned, held = [], {}
    for generation in found:
        if datetime.strptime(generation.name, STAMP).replace(tzinfo=UTC) >= older_than:
            continue
        kept = sorted(name for name, g in last_good.items() if g == generation)
        if kept:
            _cut_down(generation, set(kept))
            held[generation.name] = kept
        else:
            shutil.rmtree(generation)
            pruned.append(generation.name)
    return pruned, held


def _cut_down(generation: Path, names: set[str]) -> None:
    """Keep only `names` in `generation`: its manifest first (a kill after it leaves copies it no longer lists,
    removed at the next run), then the other copies."""
    manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if f["name"] in names]
    partial = generation / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(partial, generation / MANIFEST)
    for path in generation.iterdir():
        if path.name not in names and path.name != MANIFEST:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
