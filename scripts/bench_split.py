#!/usr/bin/env python3
"""Benchmark the legacy split against its raw lower bound, on the same legacy database.

The bound, per guild: copy the template file, ATTACH the legacy file, INSERT … SELECT
… WHERE guild_id = ? for every table of that guild in one transaction, no checks
(the home guild also takes the user-level tables whole; the bot-wide file the
global ones). The split runs with every check on: backup + integrity check,
quarantine, per-table checksums, orphan counts, balance check, fsync, manifest.

    python scripts/bench_split.py [--quick] [--legacy EXISTING.db] [--users N --guilds N] [--repeat N]

Prints both timings and a final JSON line: rows, split_rows_per_s, bound_rows_per_s, ratio.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.ids import BOT_FILE_NAME, guild_file_name
from app.db.schema import BOT_SCHEMA, GUILD_SCHEMA
from app.legacy.plan import destination_tables
from app.legacy.rules import GLOBAL_TABLES, GUILD_TABLES, HOME_TABLES
from app.legacy.splitter import SplitOptions, split_legacy
from app.legacy.testing import HOME_GUILD, build_legacy_db


def _columns(conn: sqlite3.Connection, table: str, drop: str | None = None) -> str:
    return ", ".join(f'"{r[1]}"' for r in conn.execute(f'PRAGMA table_info("{table}")') if r[1] != drop)


def _fill(path: Path, image: bytes, legacy: Path, statements: list[tuple[str, tuple[object, ...]]]) -> None:
    path.write_bytes(image)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS legacy", (str(legacy),))
    conn.execute("BEGIN")
    for sql, params in statements:
        conn.execute(sql, params)
    conn.execute("COMMIT")
    conn.close()


def raw_bound(legacy: Path, out: Path, home: int) -> float:
    """Seconds for the naive set-based copy: the lower bound the split is measured against."""
    out.mkdir()
    started = time.perf_counter()
    conn = sqlite3.connect(legacy)
    guild_ids = sorted({r[0] for t in GUILD_TABLES for r in conn.execute(
        f'SELECT DISTINCT guild_id FROM "{t}" WHERE typeof(guild_id) = \'integer\' AND guild_id > 0')})  # noqa: S608
    guild_cols = {t: _columns(conn, t, "guild_id") for t in GUILD_TABLES}
    whole_cols = {t: _columns(conn, t) for t in (*HOME_TABLES, *GLOBAL_TABLES)}
    conn.close()
    for guild_id in guild_ids:
        statements: list[tuple[str, tuple[object, ...]]] = [
            (f'INSERT INTO main."{t}" ({c}) SELECT {c} FROM legacy."{t}" WHERE guild_id = ?', (guild_id,))  # noqa: S608
            for t, c in guild_cols.items()]
        if guild_id == home:
            statements += [(f'INSERT INTO main."{t}" ({whole_cols[t]}) SELECT {whole_cols[t]} FROM legacy."{t}"', ())  # noqa: S608
                           for t in HOME_TABLES]
        _fill(out / guild_file_name(guild_id), GUILD_SCHEMA.image, legacy, statements)
    _fill(out / BOT_FILE_NAME, BOT_SCHEMA.image, legacy,
          [(f'INSERT INTO main."{t}" ({whole_cols[t]}) SELECT {whole_cols[t]} FROM legacy."{t}"', ())  # noqa: S608
           for t in GLOBAL_TABLES])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small database (runs in well under a minute)")
    parser.add_argument("--legacy", type=Path, help="use this legacy database instead of generating one")
    parser.add_argument("--users", type=int, default=25_000)
    parser.add_argument("--guilds", type=int, default=2_000)
    parser.add_argument("--home-guild", type=int, default=HOME_GUILD)
    parser.add_argument("--repeat", type=int, default=1, help="run both N times, alternated; report the best")
    args = parser.parse_args()
    users, guilds = (2_500, 200) if args.quick else (args.users, args.guilds)
    destination_tables(GUILD_SCHEMA)  # template images are built once per process, outside the timings
    with tempfile.TemporaryDirectory(prefix="bench-split-") as scratch:
        work = Path(scratch)
        legacy = work / "database.db"
        if args.legacy:
            legacy.write_bytes(args.legacy.read_bytes())
        else:
            print(f"building a legacy database: {users} users, {guilds} guilds …", file=sys.stderr)
            build_legacy_db(legacy, users=users, guilds=guilds, home_guild=args.home_guild)
        with sqlite3.connect(legacy) as conn:
            rows = sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                       for t in (*GUILD_TABLES, *HOME_TABLES, *GLOBAL_TABLES))
        conn.close()
        bounds, splits = [], []
        for attempt in range(args.repeat):  # alternated, best of each: the machine may be shared
            bounds.append(raw_bound(legacy, work / f"bound-{attempt}", args.home_guild))
            started = time.perf_counter()
            report = split_legacy(SplitOptions(legacy, work / f"guild_dbs-{attempt}", home_guild_id=args.home_guild))
            splits.append(time.perf_counter() - started)
        bound, split = min(bounds), min(splits)
    written = sum(c.written + c.quarantined for c in report.tables.values())
    print(f"rows {rows} in {len(report.guilds)} guilds; split {split:.2f} s ({rows / split:,.0f} rows/s, "
          f"{written} placed); raw bound {bound:.2f} s ({rows / bound:,.0f} rows/s)", file=sys.stderr)
    print(json.dumps({"rows": rows, "guilds": len(report.guilds), "split_seconds": round(split, 3),
                      "bound_seconds": round(bound, 3), "split_rows_per_s": round(rows / split),
                      "bound_rows_per_s": round(rows / bound), "ratio": round(bound / split, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
