"""`backup --out DIR`: a dated generation per run; unchanged files are hard links to the previous one.

DIR/<YYYYmmddTHHMMSSffffffZ>/ holds the copies and manifest.json (sizes, SHA-256, the source's state).
A file whose source did not change since the previous generation is linked, not copied (incremental);
a guild whose file is gone (deleted by its admins, purged after retention) is left out of the new
generation, and generations older than BACKUP_RETENTION_DAYS are removed (the newest always stays):
older backups keep a deleted guild at most that long. A file SQLite cannot read (damaged, not a database) is
left out and named, and the others are backed up. Its last good copy is kept past the retention, alone: the
generation that holds it is cut down to it (its manifest first), so that one damaged file never keeps anything
else, a deleted guild or an erased member, longer than BACKUP_RETENTION_DAYS. A file the bot set aside as
damaged (`<name>.quarantined-<stamp>` beside it) keeps the same way its last copy made before it was set aside.

One backup at a time writes into DIR (a lock file; a second one waits for the first), so a run never prunes
the generation another links from; a generation without its manifest (a run killed half-way) is removed by
the next run, never kept past the retention.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.backup.copy import Entry, online_copy, sha256_of, source_signature
from app.backup.receipts import copy_time
from app.db.files import set_aside_in
from app.db.fleet import list_guild_files
from app.db.ids import BOT_FILE_NAME, guild_id_from_path
from app.errors import FileInUseError, NotFoundError
from app.rights.atomic import FILE_MODE, private_dir

MANIFEST = "manifest.json"
STAMP = "%Y%m%dT%H%M%S%fZ"
LOCK = ".backup.lock"
LOCK_WAIT_S = 60.0  # a backup waits at most this for another one into the same folder (two crons overlapping)
Progress = Callable[[list[Path]], Iterable[Path]]
Hold = set[tuple[str, datetime]]  # (file, the newest copy made before this moment is kept)


@dataclass(slots=True)
class BackupReport:
    generation: Path
    copied: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # in the previous generation, gone from the folder
    pruned: list[str] = field(default_factory=list)  # generations past BACKUP_RETENTION_DAYS
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, SQLite's reason): unreadable, left out
    held: dict[str, list[str]] = field(default_factory=dict)  # generation past retention -> last good copies kept
    set_aside: list[str] = field(default_factory=list)  # files the bot set aside as damaged (their last copy held)
    incomplete: list[str] = field(default_factory=list)  # generations without a manifest (killed runs), removed
    bytes_copied: int = 0


def stamp_of(path: Path) -> datetime | None:
    """When a generation was made, from its name (None: not a generation's name)."""
    try:
        return datetime.strptime(path.name, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def generations(out: Path) -> list[Path]:
    """Complete generations (named by their time, with a manifest), oldest first."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.is_dir() and stamp_of(p) and (p / MANIFEST).is_file())


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


@contextlib.contextmanager
def _one_at_a_time(out: Path, wait_s: float) -> Iterator[None]:
    """Raises:
        FileInUseError: another backup into `out` was still running after `wait_s` seconds.
    """
    private_dir(out)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FileInUseError(f"Another backup into {out} is still running after {wait_s:.0f} s: try "
                                         "again once it has ended.") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _new_generation(out: Path, moment: datetime, previous: list[Path]) -> Path:
    """A new folder named by `moment`, after every generation there (two runs in one microsecond, a clock set
    back: names keep the order the runs had)."""
    stamp = moment
    newest = stamp_of(previous[-1]) if previous else None
    if newest is not None and stamp <= newest:
        stamp = newest + timedelta(microseconds=1)
    while (out / stamp.strftime(STAMP)).exists():
        stamp += timedelta(microseconds=1)
    return private_dir(out / stamp.strftime(STAMP))


def backup_folder(root: Path, out: Path, *, retention_days: int, now: datetime | None = None,
                  progress: Progress = list, wait_s: float = LOCK_WAIT_S) -> BackupReport:
    """Back up every guild file and the bot-wide file of `root` into a new generation under `out`; another backup
    into `out` under way is waited for (at most `wait_s`).

    Raises:
        FileInUseError: another backup into `out` was still running after `wait_s` (nothing is written).
    """
    with _one_at_a_time(out, wait_s):
        moment = (now or datetime.now(UTC)).astimezone(UTC)  # once the run may start: its copies are after it
        previous = generations(out)
        report = BackupReport(_new_generation(out, moment, previous))
        before = read_manifest(previous[-1]) if previous else {}
        entries = _copy_all(root, report, previous[-1] if previous else None, before, moment, progress)
        names = {e.name for e in entries}
        unreadable = {name for name, _ in report.failed}
        set_aside = _set_aside(root)
        report.set_aside = sorted({name for name, _ in set_aside})
        report.dropped = sorted(n for n in before if n not in names | unreadable | set(report.set_aside))
        _write_manifest(report.generation, {"created_at": moment.isoformat(), "root": str(root.resolve()),
                                            "files": [e.as_dict() for e in entries]})
        hold = {(name, moment) for name in unreadable} | set_aside
        report.pruned, report.held, report.incomplete = _prune(
            out, keep=report.generation, older_than=moment - timedelta(days=retention_days), hold=hold)
    return report


def _copy_all(root: Path, report: BackupReport, previous: Path | None, before: dict[str, Entry], moment: datetime,
              progress: Progress) -> list[Entry]:
    """Copy (or link, if unchanged since the `previous` generation, whose manifest is `before`) every file of
    `root` into `report.generation`."""
    target = report.generation
    entries = []
    for source in progress(_sources(root)):
        signature = source_signature(source)
        old = before.get(source.name)
        if previous is not None and old is not None and old.source == signature and (previous / old.name).is_file():
            _link_or_copy(previous / old.name, target / source.name)
            entries.append(old)
            report.linked.append(source.name)
            continue
        try:
            online_copy(source, target / source.name)
        except FileNotFoundError:
            continue  # deleted while the backup ran
        except sqlite3.DatabaseError as error:  # damaged, or not a database: the others are still backed up
            if not os.path.lexists(source):
                continue  # deleted before SQLite could open it (`guild delete` beside the backup): no damage
            report.failed.append((source.name, str(error)))
            continue
        copy = target / source.name
        entries.append(Entry(source.name, copy.stat().st_size, sha256_of(copy), signature, moment.isoformat()))
        report.copied.append(source.name)
        report.bytes_copied += entries[-1].size
    return entries


def _write_manifest(generation: Path, manifest: dict[str, object]) -> None:
    partial = generation / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(partial, generation / MANIFEST)  # the generation is complete only with its manifest


def _set_aside(root: Path) -> Hold:
    """(file, when) of every copy the bot set aside as damaged (`<name>.quarantined-<stamp>`, no side file)."""
    found: Hold = set()
    for name, stamp, _ in set_aside_in(root):
        when = stamp_of(Path(stamp))
        if when is not None and (name == BOT_FILE_NAME or guild_id_from_path(Path(name)) is not None):
            found.add((name, when))
    return found


def _link_or_copy(existing: Path, new: Path) -> None:
    try:
        os.link(existing, new)  # the copies never change once written: generations can share them
    except OSError:
        shutil.copy2(existing, new)  # a filesystem without hard links


def _prune(out: Path, *, keep: Path, older_than: datetime,
           hold: Hold) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Remove the generations made before `older_than` (never `keep`); one holding a copy `hold` asks for is cut
    down to those copies instead; generations without a manifest are removed (one run at a time: none is under
    way). Returns (removed, {cut down: copies kept}, incomplete removed)."""
    incomplete = sorted(p.name for p in out.iterdir()
                        if p.is_dir() and p != keep and stamp_of(p) and not (p / MANIFEST).is_file())
    for name in incomplete:
        shutil.rmtree(out / name)
    found = [g for g in generations(out) if g != keep]
    manifests = {g: read_manifest(g) for g in found}
    kept: dict[Path, set[str]] = {}
    for name, before in hold:
        made_before = [g for g in found if name in manifests[g] and copy_time(manifests[g][name].copied_at) < before]
        if made_before:  # oldest first: the last is the newest copy made before
            kept.setdefault(made_before[-1], set()).add(name)
    pruned, held = [], {}
    for generation in found:
        if (stamp_of(generation) or older_than) >= older_than:
            continue
        if generation in kept:
            _cut_down(generation, kept[generation])
            held[generation.name] = sorted(kept[generation])
        else:
            shutil.rmtree(generation)
            pruned.append(generation.name)
    return pruned, held, incomplete


def _cut_down(generation: Path, names: set[str]) -> None:
    """Keep only `names` in `generation`: its manifest first (a kill after it leaves copies it no longer lists,
    removed at the next run), then the other copies."""
    manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if f["name"] in names]
    _write_manifest(generation, manifest)
    for path in generation.iterdir():
        if path.name not in names and path.name != MANIFEST:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
