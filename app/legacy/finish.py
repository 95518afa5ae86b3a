"""The last phase: move the staged files into place, merge the bot-wide tables, write the manifest.

It runs from the commit record alone, so a run killed anywhere in here is
finished by the next one: a staged file still in staging is moved, one already
moved is left alone, bot-wide tables already holding exactly the staged rows
are not copied twice.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.db.ids import BOT_FILE_NAME
from app.errors import LegacySplitError
from app.legacy.backup import fsync_path
from app.legacy.conflicts import conflict_error, rows_in
from app.legacy.digest import table_digest
from app.legacy.manifest import COMMIT_NAME, manifest_path, staging_dir, write_json_atomic
from app.legacy.report import SplitReport, TableCounts
from app.legacy.rules import quote_name


def _move_into_place(staged: Path, final: Path) -> None:
    if final.exists() and rows_in(final):
        raise conflict_error(final.parent, [f"{final.name} (written by someone else during the split)"])
    os.replace(staged, final)  # over a data-free file the bot built, or into an empty slot


def _merge_table(conn: sqlite3.Connection, name: str, columns: list[str], expected: dict[str, Any]) -> None:
    q = quote_name(name)
    exists = conn.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                          (name,)).fetchone()  # NOCASE folds ASCII only, as SQLite matches table names
    if exists is None:
        ddl = conn.execute("SELECT sql FROM s.sqlite_master WHERE type = 'table' AND name = ?",
                           (name,)).fetchone()[0]
        conn.execute(ddl)  # a table the operator mapped global: created as staged
    current = table_digest(conn, "main", name, columns)
    if current.rows and (current.rows, current.checksum) == (expected["rows"], expected["checksum"]):
        return  # copied by an earlier, interrupted run
    if current.rows:
        raise conflict_error(Path("the output directory"), [f"{BOT_FILE_NAME} ({name}: {current.rows} row(s))"])
    cols = ", ".join(quote_name(c) for c in columns)
    conn.execute(f"INSERT INTO main.{q} ({cols}) SELECT {cols} FROM s.{q} ORDER BY rowid")  # noqa: S608


def merge_bot_wide(staged: Path, final: Path, tables: dict[str, dict[str, Any]]) -> None:
    """Put the staged bot-wide tables into the bot-wide file: moved if it is new, else merged."""
    if not final.exists():
        if staged.exists():
            os.replace(staged, final)
        return
    if not staged.exists():
        return  # moved into place by an earlier, interrupted run
    conn = sqlite3.connect(final, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("ATTACH DATABASE ? AS s", (str(staged),))
        conn.execute("BEGIN IMMEDIATE")
        try:
            for name, entry in sorted(tables.items()):
                _merge_table(conn, name, entry["columns"], entry)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def finish(out_dir: Path, commit: dict[str, Any], pause: Any = None) -> None:
    """Move every staged file into place (resumable), then sync the directory."""
    staging = staging_dir(out_dir)
    for index, name in enumerate(sorted(commit["files"])):
        if name == BOT_FILE_NAME:
            continue
        staged, final = staging / name, out_dir / name
        if staged.exists():
            _move_into_place(staged, final)
        elif not final.exists():
            raise LegacySplitError(f"{name} is neither staged nor in place; the split's staging directory "
                                   f"{staging} was altered, so remove it and run the split again.")
        if pause is not None:
            pause("finish", index + 1)
    quarantine = commit.get("quarantine")
    if quarantine and (staging / quarantine).exists():
        os.replace(staging / quarantine, out_dir / quarantine)
    if BOT_FILE_NAME in commit["files"]:
        merge_bot_wide(staging / BOT_FILE_NAME, out_dir / BOT_FILE_NAME,
                       commit["files"][BOT_FILE_NAME]["tables"])
    fsync_path(out_dir, directory=True)


def write_manifest(out_dir: Path, commit: dict[str, Any]) -> Path:
    """Write the manifest (last), then drop the staging directory, which held only our scratch."""
    path = manifest_path(out_dir)
    write_json_atomic(path, {**commit, "completed_at": datetime.now(UTC).isoformat(timespec="seconds")})
    staging = staging_dir(out_dir)
    (staging / COMMIT_NAME).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    return path


def report_from_record(out_dir: Path, record: dict[str, Any], status: str, seconds: float,
                       message: str) -> SplitReport:
    """A report rebuilt from a commit record or manifest."""
    tables = {name: TableCounts(**counts) for name, counts in record["tables"].items()}
    guilds = sorted(entry["guild_id"] for entry in record["files"].values() if entry["guild_id"] is not None)
    quarantine = record.get("quarantine")
    return SplitReport(
        status=status,  # type: ignore[arg-type]
        tables=tables, guilds=guilds, seconds=seconds, manifest=manifest_path(out_dir),
        backup=Path(record["backup"]), quarantine=out_dir / quarantine if quarantine else None,
        home_guild_id=record.get("home_guild_id"), message=message)
