"""Refusing to split into an output directory that already holds data for the same guilds.

No merge guessing: a guild file with any row outside its meta table, or with
changes still in its `-wal`, stops the split. A data-free guild file (the bot
built it empty) is replaced by the split's file. The bot-wide file is merged
into, but only if the tables the split fills in it are empty.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from app.db.ids import BOT_FILE_NAME, guild_file_name
from app.errors import LegacySplitConflictError
from app.legacy.rules import folded, quote_name
from app.legacy.source import open_read_only

_NOT_DATA = frozenset({"guild_meta", "bot_meta", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4"})


def rows_in(path: Path, tables: Iterable[str] | None = None) -> dict[str, int]:
    """Rows per table of an existing destination file (never modifying it); only non-zero counts."""
    with open_read_only(path, "existing file") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        asked = None if tables is None else {folded(t) for t in tables}  # SQLite's names: any ASCII case
        wanted = [n for n in names if n not in _NOT_DATA and (asked is None or folded(n) in asked)]
        counts = {n: conn.execute(f"SELECT count(*) FROM {quote_name(n)}").fetchone()[0]  # noqa: S608
                  for n in wanted}
    return {n: c for n, c in counts.items() if c}


def _wal_bytes(path: Path) -> int:
    try:
        return Path(f"{path}-wal").stat().st_size
    except FileNotFoundError:
        return 0


def _describe(path: Path, tables: Iterable[str] | None = None) -> str | None:
    rows = rows_in(path, tables)
    if rows:
        shown = ", ".join(f"{n}: {c} row(s)" for n, c in sorted(rows.items())[:3])
        return f"{path.name} ({shown})"
    if tables is None and _wal_bytes(path):
        return f"{path.name} (changes not yet checkpointed in its -wal file)"
    return None


def find_conflicts(out_dir: Path, guild_ids: Iterable[int], global_tables: Iterable[str]) -> list[str]:
    """Files in `out_dir` that already hold data the split would write; empty when there is none."""
    if not out_dir.is_dir():
        return []
    existing = set(os.listdir(out_dir))
    found = []
    for guild_id in guild_ids:
        name = guild_file_name(guild_id)
        if name in existing:
            detail = _describe(out_dir / name)
            if detail:
                found.append(detail)
    global_tables = list(global_tables)
    if BOT_FILE_NAME in existing and global_tables:
        detail = _describe(out_dir / BOT_FILE_NAME, global_tables)
        if detail:
            found.append(detail)
    return found


def conflict_error(out_dir: Path, found: list[str]) -> LegacySplitConflictError:
    shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    return LegacySplitConflictError(
        f"{out_dir} already holds data for {len(found)} of the files this split would write: {shown}; "
        "nothing was written: move those files out of the way or split into an empty directory.")
