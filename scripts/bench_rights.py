"""Benchmark of data rights: deleting a guild file vs DELETE … WHERE guild_id = ? in a monolith, export MB/s.

    python scripts/bench_rights.py [--workdir DIR] [--rows N]

Prints a table and, last, one JSON line. `scripts/bench_storage.py` imports `measure`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.db.files import build_file
from app.rights.export import export_guild
from app.rights.guild_delete import delete_guild

Row = tuple[Any, ...]
# share of a guild's rows per table, the columns filled, and a row builder (i, text, offset)
TABLES: dict[str, tuple[float, str, Callable[[int, str, int], Row]]] = {
    "users": (0.05, "discord_id, username, anilist_username, anilist_id",
              lambda i, t, o: (i + 1, f"user{i}", f"al{i}", i)),
    "user_manga_progress": (0.40, "discord_id, manga_id, title, chapters_read, status, score",
                            lambda i, t, o: (i % 5000 + 1, i, t, i % 300, "CURRENT", 7.5)),
    "achievements": (0.10, "discord_id, achievement_key, tier", lambda i, t, o: (i // 20 + 1, f"k{i % 20}", 1)),
    "user_xp": (0.05, "discord_id, xp, level", lambda i, t, o: (i + 1, i * 3, i % 50)),
    "cached_stats": (0.05, "discord_id, total_manga, top_genres",
                     lambda i, t, o: (i + 1, i % 400, '["Action", "Drama"]')),
    "invite_uses": (0.15, "invite_code, inviter_id, joiner_id, is_fake",
                    lambda i, t, o: (f"c{i % 500}", i % 500 + 1, i + 1, 0)),
    "user_leaves": (0.05, "user_id, inviter_id, days_in_server", lambda i, t, o: (i + 1, i % 500 + 1, 3.5)),
    "recommendations": (0.05, "id, discord_id, manga_id, reason", lambda i, t, o: (o + i + 1, i % 5000 + 1, i, t)),
    "recommendation_feedback": (0.05, "recommendation_id, discord_id, vote",
                                lambda i, t, o: (o + i + 1, i % 5000 + 1, 1)),
    "user_progress": (0.05, "discord_id, challenge_id, manga_id, points_earned",
                      lambda i, t, o: (i + 1, 1, i, i % 10)),
}


def _rows(total: int, text_len: int, offset: int) -> Iterator[tuple[str, str, list[Row]]]:
    text = ("Manga title with some words " * (text_len // 28 + 1))[:text_len]
    for table, (share, columns, build) in TABLES.items():
        yield table, columns, [build(i, text, offset) for i in range(int(total * share))]


def _fill(conn: sqlite3.Connection, total: int, text_len: int, offset: int, guild_id: int | None) -> None:
    prefix = "guild_id, " if guild_id is not None else ""
    head: Row = (guild_id,) if guild_id is not None else ()
    for table, columns, rows in _rows(total, text_len, offset):
        marks = ", ".join("?" * (len(columns.split(",")) + len(head)))
        conn.executemany(f"INSERT INTO {table} ({prefix}{columns}) VALUES ({marks})",  # noqa: S608
                         [head + r for r in rows])


def build_guild(path: Path, guild_id: int, total: int, text_len: int = 24) -> None:
    """A guild file in the real schema holding `total` rows."""
    build_file(path, GUILD_SCHEMA, guild_id)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        _fill(conn, total, text_len, 0, None)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _monolith_schema(conn: sqlite3.Connection) -> None:
    """Every guild table plus a guild_id column, in the primary key and indexed (the legacy shape)."""
    template = sqlite3.connect(":memory:")
    template.executescript(GUILD_SCHEMA.sql_path.read_text(encoding="utf-8"))
    for table in TABLES:
        cols = template.execute(f"PRAGMA table_info({table})").fetchall()
        pk = [c[1] for c in sorted(cols, key=lambda c: c[5]) if c[5]]
        defs = ["guild_id INTEGER NOT NULL"] + [f"{c[1]} {c[2]}" for c in cols]
        sql = template.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        rowid_alias = "AUTOINCREMENT" in sql  # a surrogate id stays unique across guilds
        if rowid_alias:
            defs[defs.index(f"{pk[0]} INTEGER")] = f"{pk[0]} INTEGER PRIMARY KEY"
        elif pk:
            defs.append(f"PRIMARY KEY (guild_id, {', '.join(pk)})")
        conn.execute(f"CREATE TABLE {table} ({', '.join(defs)})")
        conn.execute(f"CREATE INDEX {table}_guild ON {table} (guild_id)")
    for (sql,) in template.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"):
        table = sql.split(" ON ")[1].split(" ")[0]
        if table in TABLES:
            conn.execute(sql)
    template.close()


def build_monolith(path: Path, guild_ids: list[int], total: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        _monolith_schema(conn)
        for k, guild_id in enumerate(guild_ids):
            _fill(conn, total, 24, k * total, guild_id)
        conn.execute("COMMIT")
    finally:
        conn.close()


def monolith_delete(path: Path, guild_id: int) -> tuple[float, float]:
    """(ms for the DELETEs in one transaction, ms for the checkpoint that follows)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -2000"):
            conn.execute(f"PRAGMA {pragma}")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            conn.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))  # noqa: S608
        conn.execute("COMMIT")
        deleted = time.perf_counter()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return (deleted - started) * 1000, (time.perf_counter() - deleted) * 1000
    finally:
        conn.close()


async def _guild_deletes(root: Path, sizes: dict[int, int], repeat: int) -> dict[int, list[float]]:
    """Delete guilds of each size (opened and in use by the manager first, as in a running bot)."""
    timings: dict[int, list[float]] = {size: [] for size in sizes.values()}
    async with GuildDatabaseManager(root, max_open=64) as manager:
        for guild_id in sizes:
            async with manager.connect(guild_id) as db:
                await db.execute_fetchone("SELECT COUNT(*) FROM users")
        for _ in range(repeat):
            for guild_id, size in sizes.items():
                started = time.perf_counter()
                await delete_guild(manager, guild_id, requested_by="bench", reason="benchmark")
                timings[size].append((time.perf_counter() - started) * 1000)
                await asyncio.to_thread(build_guild, manager.path_for(guild_id), guild_id, size)
                async with manager.connect(guild_id) as db:
                    await db.execute_fetchone("SELECT COUNT(*) FROM users")
    return timings


async def _export_rate(root: Path, out_dir: Path, guild_id: int, fmt: str, repeat: int) -> float:
    source_bytes = (root / f"{guild_id}.sqlite3").stat().st_size
    rates = []
    async with GuildDatabaseManager(root, max_open=8) as manager:
        for i in range(repeat):
            async with manager.connect(guild_id) as db:
                result = await export_guild(db, out_dir / f"export-{fmt}-{i}", fmt=fmt)  # type: ignore[arg-type]
            rates.append(source_bytes / result.seconds / 1e6)
            result.path.unlink()
    return statistics.median(rates)


async def measure(workdir: Path, *, rows: int = 100_000, small_rows: int = 1_000,
                  export_rows: int = 300_000, repeat: int = 3) -> dict[str, Any]:
    """Run every measurement under `workdir`; returns the figures (milliseconds, MB = 10**6 bytes)."""
    workdir = Path(workdir)
    root = workdir / "guild_dbs"
    root.mkdir(parents=True, exist_ok=True)
    big, small, large = 1001, 1002, 1003
    await asyncio.to_thread(build_guild, root / f"{big}.sqlite3", big, rows)
    await asyncio.to_thread(build_guild, root / f"{small}.sqlite3", small, small_rows)
    deletes = await _guild_deletes(root, {big: rows, small: small_rows}, repeat)
    monolith = workdir / "monolith.db"
    guilds = [2001 + k for k in range(repeat + 1)]
    await asyncio.to_thread(build_monolith, monolith, guilds, rows)
    mono = [await asyncio.to_thread(monolith_delete, monolith, g) for g in guilds[:repeat]]
    await asyncio.to_thread(build_guild, root / f"{large}.sqlite3", large, export_rows, 120)
    export_sqlite = await _export_rate(root, workdir, large, "sqlite", repeat)
    export_json = await _export_rate(root, workdir, large, "json", 1)
    delete_ms = statistics.median(deletes[rows])
    mono_ms = statistics.median(m[0] for m in mono)
    return {
        "rows": rows, "delete_ms": round(delete_ms, 2),
        "delete_small_ms": round(statistics.median(deletes[small_rows]), 2), "small_rows": small_rows,
        "monolith_delete_ms": round(mono_ms, 2),
        "monolith_checkpoint_ms": round(statistics.median(m[1] for m in mono), 2),
        "monolith_guilds": len(guilds), "delete_ratio": round(mono_ms / delete_ms, 1),
        "export_mb_per_s": round(export_sqlite, 1), "export_json_mb_per_s": round(export_json, 1),
        "export_file_mb": round((root / f"{large}.sqlite3").stat().st_size / 1e6, 1),
        "sqlite_version": sqlite3.sqlite_version,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to build the files (default: a temp dir)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the guild deleted (default 100000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        figures = asyncio.run(measure(Path(tmp), rows=args.rows))
    print(f"{'measure':<44}{'value':>12}")
    for label, key, unit in [
        (f"delete a guild file of {figures['rows']:,} rows", "delete_ms", "ms"),
        (f"delete a guild file of {figures['small_rows']:,} rows", "delete_small_ms", "ms"),
        (f"monolith DELETE … WHERE guild_id ({figures['monolith_guilds']} guilds)", "monolith_delete_ms", "ms"),
        ("  + its WAL checkpoint", "monolith_checkpoint_ms", "ms"),
        ("monolith / guild file", "delete_ratio", "x"),
        (f"export sqlite ({figures['export_file_mb']} MB file)", "export_mb_per_s", "MB/s"),
        ("export json zip (same file)", "export_json_mb_per_s", "MB/s"),
    ]:
        print(f"{label:<44}{figures[key]:>10} {unit}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
