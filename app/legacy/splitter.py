"""The split from start to end: plan, backup, stage, check, commit, move into place, manifest.

Nothing is written before the plan holds (unknown tables, home guild, conflicts).
Every file is built in the staging directory and synced; the commit record is
written once all of them are complete and the row balance holds; the manifest
is written last. A kill before the commit record: the rerun rebuilds the staged
files from the same backup. A kill after it: the rerun only finishes the moves.
"""
from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.db.ids import BOT_FILE_NAME, guild_file_name
from app.db.schema import BOT_SCHEMA, GUILD_SCHEMA
from app.errors import LegacySplitError
from app.legacy.backup import check_integrity, fsync_path, make_backup, timestamp
from app.legacy.conflicts import conflict_error, find_conflicts
from app.legacy.copy import Job, StagedFile, Stager
from app.legacy.digest import FileDigest, digest_file
from app.legacy.finish import finish, report_from_record, write_manifest
from app.legacy.manifest import (
    COMMIT_NAME,
    STATE_NAME,
    damaged_record,
    manifest_path,
    quarantine_name,
    read_json,
    staging_dir,
    write_json_atomic,
)
from app.legacy.plan import Plan, make_plan, shown
from app.legacy.preview import dry_run_report, estimated_counts
from app.legacy.report import SplitReport, TableCounts, check_balance
from app.legacy.rules import merge_rules
from app.legacy.source import fingerprint, open_read_only, read_error
from app.rights.atomic import private_dir
from app.scratch import private_scratch

PAUSE_ENV = "GUILDSHELF_SPLIT_PAUSE"  # tests only: "stage:N" / "finish:N" stops there, to be killed
ProgressFn = Callable[[int, int], None]
PARALLEL_MIN_ROWS = 50_000  # below this, checksums run inline (a process start costs ~0.1 s)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SplitOptions:
    legacy: Path
    out: Path
    home_guild_id: int | None = None
    maps: Sequence[str] = ()
    dry_run: bool = False


def _pause(phase: str, count: int) -> None:
    if os.environ.get(PAUSE_ENV) == f"{phase}:{count}":
        print(f"legacy split paused at {phase}:{count}", file=sys.stderr, flush=True)
        time.sleep(3600)


def split_legacy(options: SplitOptions, progress: ProgressFn | None = None) -> SplitReport:
    """Split the legacy database into per-guild files (or show the plan, for a dry run).

    Raises:
        LegacySplitError: with the reason (unknown tables, conflicts, no home guild, a damaged
            backup, an unbalanced count, a file error); nothing was moved into the output
            directory, unless the split had reached its last phase, which a rerun finishes.
    """
    out_existed = options.out.exists()
    try:
        return _split(options, progress)
    except Exception as error:
        committed = (staging_dir(options.out) / COMMIT_NAME).exists()
        if not committed:
            shutil.rmtree(staging_dir(options.out), ignore_errors=True)  # our scratch only
            if not out_existed and options.out.is_dir() and not any(options.out.iterdir()):
                options.out.rmdir()
        if isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error):
            raise read_error(options.legacy, error) from error
        if isinstance(error, (OSError, sqlite3.Error)):
            after = ("the split had reached its last phase: run it again to finish" if committed
                     else "nothing was moved into the output directory")
            raise LegacySplitError(f"The split stopped on a file error ({error}); the legacy database is "
                                   f"untouched and {after}.") from error
        raise


def _split(options: SplitOptions, progress: ProgressFn | None) -> SplitReport:
    started, out = time.monotonic(), options.out
    done = read_json(manifest_path(out))
    if done is not None:
        _check_record(out, done, manifest_path(out))
        _check_same_legacy(done, options.legacy, out)
        if not options.dry_run:  # scratch of a run killed just after its manifest
            shutil.rmtree(staging_dir(out), ignore_errors=True)
        return report_from_record(out, done, "already-split", time.monotonic() - started,
                                  f"Already split (see {manifest_path(out)}); nothing changed.")
    commit = read_json(staging_dir(out) / COMMIT_NAME)
    if commit is not None:
        _check_record(out, commit, staging_dir(out) / COMMIT_NAME)
    if commit is not None and options.dry_run:
        return report_from_record(out, commit, "dry-run", time.monotonic() - started,
                                  "A split interrupted in its last phase is pending; the next run "
                                  "finishes it. Nothing was written.")
    if commit is not None:
        return _complete(out, commit, started)
    with open_read_only(options.legacy) as conn:  # its private scratch sweeps what killed runs left in TMPDIR
        conn.execute("BEGIN")  # one snapshot: the plan and the backup see the same rows
        try:
            plan = make_plan(conn, merge_rules(options.maps), options.home_guild_id)
            conflicts = find_conflicts(out, plan.destinations(), [n for n, r in plan.global_rows().items() if r])
            if options.dry_run:
                return _dry_run(conn, plan, conflicts, progress, started)
            plan.check()
            if conflicts:
                raise conflict_error(out, conflicts)
            backup, stamp = _ensure_backup(conn, options.legacy, staging_dir(out))
        finally:
            conn.execute("COMMIT")
    try:
        commit = _stage(plan, backup, stamp, options, progress)
    except Exception:
        backup.unlink(missing_ok=True)  # our copy; the legacy file itself is untouched
        raise
    return _complete(out, commit, started)


def _dry_run(conn: sqlite3.Connection, plan: Plan, conflicts: list[str], progress: ProgressFn | None,
             started: float) -> SplitReport:
    problems: list[str] = []
    try:
        counts = _rehearse(conn, plan, progress)
    except _NoRoomToRehearse:
        raise  # the dry run's own problem, not the split's
    except LegacySplitError as error:  # what would stop the copy itself (a damaged file …)
        counts, problems = estimated_counts(plan), [error.user_message]
    return dry_run_report(plan, conflicts, time.monotonic() - started, counts, problems)


def _rehearse(conn: sqlite3.Connection, plan: Plan, progress: ProgressFn | None) -> dict[str, TableCounts]:
    """The dry run's counts: the split's own copy, staged in a private temporary directory, then removed.

    Rows the new schema refuses (its types, keys, NOT NULLs) show only when they are written, so
    only the copy itself counts them as the split does. Without a home guild yet, its rows are
    rehearsed under a stand-in id: where they go does not change which of them are refused.
    """
    taken = plan.destinations()
    home = plan.home_guild_id or next(g for g in itertools.count(1) if g not in taken)
    try:
        with private_scratch("legacy-dry-run-") as scratch:
            copy = sqlite3.connect(scratch / "legacy.db")
            try:
                conn.backup(copy)  # the plan's snapshot
            finally:
                copy.close()
            staged, quarantined = _build(dataclasses.replace(plan, home_guild_id=home), scratch / "legacy.db",
                                         scratch, scratch / "quarantine.sqlite3", progress)
    except (OSError, sqlite3.Error) as error:
        if isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error):
            raise  # the legacy file's read bound, said as the split says it
        raise _NoRoomToRehearse(_no_room(conn, error)) from error
    counts = _counts(plan, staged, quarantined)
    check_balance(counts)
    return counts


class _NoRoomToRehearse(LegacySplitError):
    """The dry run's private copy could not be made (a small or unwritable TMPDIR); the split is not concerned."""


def _no_room(conn: sqlite3.Connection, error: OSError | sqlite3.Error) -> str:
    pages, page_size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size"))
    need = max(1, round(2 * pages * page_size / 2**20))
    return (f"The dry run could not rehearse the split in the temporary folder {tempfile.gettempdir()} "
            f"({getattr(error, 'strerror', None) or error}): it needs about {need:,} MB free there, so set "
            "TMPDIR to a folder with room and run it again; nothing was written and the legacy database is untouched.")


def _check_record(out: Path, record: dict[str, Any], path: Path) -> None:
    """Raises: LegacySplitError: a commit record or manifest lacks what a rerun reads from it."""
    try:
        report_from_record(out, record, "split", 0.0, "")
        for entry in record["files"].values():
            if not isinstance(entry["tables"], dict) or not isinstance(entry.get("orphans", {}), dict):
                raise TypeError("a file entry without its tables")
        if not isinstance(record.get("quarantine") or "", str):
            raise TypeError("the quarantine file's name is not a string")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise damaged_record(path, f"{type(error).__name__}: {error}") from error


def _check_same_legacy(manifest: dict[str, Any], legacy: Path, out: Path) -> None:
    """Raises: LegacySplitError: the legacy file is not (any longer) the one this split was made from."""
    if legacy.exists() and manifest.get("legacy_fingerprint") not in (None, fingerprint(legacy)):
        raise LegacySplitError(
            f"{out} already holds a split of {manifest.get('legacy')} made at {manifest.get('completed_at')}, "
            f"but {legacy} has changed since (or is another file), so rows in it may be missing from the "
            "guild files; nothing was changed (to split it again, move that directory aside first).")


def _ensure_backup(conn: Any, legacy: Path, staging: Path) -> tuple[Path, str]:
    """The backup of an interrupted run of this same legacy file, else a new one."""
    private_dir(staging)
    for partial in legacy.parent.glob(f".{legacy.name}.backup-*.partial"):
        partial.unlink()  # a backup interrupted by a kill: never renamed, never used
    state = read_json(staging / STATE_NAME)
    if state and state.get("fingerprint") == fingerprint(legacy):
        previous = legacy.with_name(state["backup"])
        if previous.is_file():  # integrity-checked again, like a new one, before anything commits
            return previous, state["stamp"]
    backup, stamp = make_backup(conn, legacy, timestamp())
    write_json_atomic(staging / STATE_NAME, {"backup": backup.name, "stamp": stamp,
                                             "fingerprint": fingerprint(legacy)})
    return backup, stamp


def _jobs_by_guild(plan: Plan) -> dict[int, list[Job]]:
    jobs: dict[int, list[Job]] = {}
    for name in sorted(plan.tables):
        table = plan.tables[name]
        if table.rule.kind == "guild":
            for guild_id in table.per_guild:
                jobs.setdefault(guild_id, []).append(Job(table, guild_id))
        elif table.rule.kind == "home" and table.read and plan.home_guild_id is not None:
            jobs.setdefault(plan.home_guild_id, []).append(Job(table, None))
    # the home guild first: its file is the largest to checksum, which then overlaps the rest
    return dict(sorted(jobs.items(), key=lambda item: (item[0] != plan.home_guild_id, item[0])))


def _stage_files(stager: Stager, plan: Plan, staging: Path, checker: Executor,
                 progress: ProgressFn | None) -> list[tuple[StagedFile, Future[FileDigest]]]:
    """Build every destination file; each is counted and checksummed on `checker` meanwhile."""
    by_guild = _jobs_by_guild(plan)
    staged = []
    for index, (guild_id, jobs) in enumerate(by_guild.items()):
        file = stager.stage(staging / guild_file_name(guild_id), GUILD_SCHEMA, guild_id, jobs)
        staged.append((file, checker.submit(digest_file, file.path, file.copied)))
        if progress is not None:
            progress(index + 1, len(by_guild))
        _pause("stage", index + 1)
    global_jobs = [Job(t, None) for n, t in sorted(plan.tables.items()) if t.rule.kind == "global" and t.read]
    if global_jobs:
        file = stager.stage(staging / BOT_FILE_NAME, BOT_SCHEMA, None, global_jobs)
        staged.append((file, checker.submit(digest_file, file.path, file.copied)))
    return staged


def _counts(plan: Plan, staged: list[StagedFile], quarantined: dict[str, int]) -> dict[str, TableCounts]:
    counts = {name: TableCounts(str(t.rule), read=t.read, quarantined=quarantined.get(name, 0),
                                skipped=t.read if t.rule.kind == "skip" else 0)
              for name, t in plan.tables.items()}
    for file in staged:
        for name, digest in file.tables.items():
            counts[name].written += digest.rows
        for name, orphans in file.orphans.items():
            counts[name].orphans += orphans
    return counts


def _sync(paths: list[Path]) -> None:
    """fsync every staged file; concurrent fsyncs share the file system's journal commits."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(fsync_path, paths))


class _InlineExecutor(Executor):
    """Runs each task at once: small splits need no second process."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


def _checker(rows: int) -> Executor:
    """Where the backup's integrity check and the checksums run.

    For large splits, a second process (spawned: nothing inherited; a thread measured
    slower, the GIL hand-offs stall the copy) works while this one copies.
    """
    if rows < PARALLEL_MIN_ROWS:
        return _InlineExecutor()
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _build(plan: Plan, backup: Path, staging: Path, quarantine: Path,
           progress: ProgressFn | None) -> tuple[list[StagedFile], dict[str, int]]:
    """Stage every file; the backup's integrity check and the checksums run on a second thread."""
    stager = Stager(backup, quarantine)
    with _checker(sum(t.read for t in plan.tables.values())) as checker:
        try:
            tables = [plan.tables[n] for n in sorted(plan.tables)]
            stager.index_guild_columns(tables)
            integrity = checker.submit(check_integrity, backup)
            for table in tables:
                if table.rule.kind == "guild":
                    stager.quarantine_invalid_guilds(table)
            pending = _stage_files(stager, plan, staging, checker, progress)
            quarantined = dict(stager.quarantined)
        finally:
            stager.close()
        integrity.result()
        for file, digest in pending:
            file.tables, file.orphans = digest.result().tables, digest.result().orphans
    return [file for file, _ in pending], quarantined


def _stage(plan: Plan, backup: Path, stamp: str, options: SplitOptions,
           progress: ProgressFn | None) -> dict[str, Any]:
    """Build, count, check and sync every file in staging; returns the commit record (written)."""
    staging = staging_dir(options.out)
    for leftover in staging.iterdir():  # files of an interrupted attempt are rebuilt from scratch
        if leftover.name != STATE_NAME:
            leftover.unlink()
    quarantine = staging / quarantine_name(stamp)
    staged, quarantined = _build(plan, backup, staging, quarantine, progress)
    counts = _counts(plan, staged, quarantined)
    check_balance(counts)
    if not quarantined:
        quarantine.unlink()
    _sync([f.path for f in staged] + ([quarantine] if quarantined else []))
    fsync_path(staging, directory=True)
    commit = _commit_record(plan, backup, stamp, options, counts, staged, quarantine.name if quarantined else None)
    write_json_atomic(staging / COMMIT_NAME, commit)
    return commit


def _commit_record(plan: Plan, backup: Path, stamp: str, options: SplitOptions, counts: dict[str, TableCounts],
                   staged: list[StagedFile], quarantine: str | None) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for file in staged:
        files[file.name] = {"guild_id": file.guild_id, "orphans": file.orphans, "tables": {
            name: {"rows": d.rows, "checksum": d.checksum,
                   **({"columns": list(plan.tables[name].columns)} if file.guild_id is None else {})}
            for name, d in file.tables.items()}}
    return {"format": 1, "legacy": str(options.legacy.resolve()), "backup": str(backup.resolve()),
            "legacy_fingerprint": (read_json(staging_dir(options.out) / STATE_NAME) or {}).get("fingerprint"),
            "stamp": stamp, "home_guild_id": plan.home_guild_id,
            "rules": {n: str(t.rule) for n, t in sorted(plan.tables.items())},
            # tables the split created in guild files: the data-rights subject map covers them by their rule
            "created_tables": {n: list(t.columns) for n, t in sorted(plan.tables.items())
                               if not t.dest_exists and t.rule.kind in ("guild", "home")},
            # legacy columns added to tables of the new schema that lack them (the old bot's own ALTER TABLEs)
            "extended_tables": plan.added_columns(),
            "tables": {n: asdict(c) for n, c in sorted(counts.items())},
            "quarantine": quarantine, "files": files}


def _complete(out: Path, commit: dict[str, Any], started: float) -> SplitReport:
    finish(out, commit, _pause)
    manifest = write_manifest(out, commit)
    written = sum(t["written"] for t in commit["tables"].values())
    quarantined = sum(t["quarantined"] for t in commit["tables"].values())
    guilds = sum(1 for f in commit["files"].values() if f["guild_id"] is not None)
    message = (f"Split {written} row(s) into {guilds} guild file(s) and the bot-wide file; "
               f"{quarantined} row(s) quarantined; manifest {manifest.name}.")
    if added := [f"{shown(table)}.{shown(column)}" for table, columns in (commit.get("extended_tables") or {}).items()
                 for column in columns]:
        message += (f" Kept {len(added)} legacy column(s) the new schema lacks, added to their tables in the guild "
                    f"files: {', '.join(added)}.")
    return report_from_record(out, commit, "split", time.monotonic() - started, message)
