#!/usr/bin/env python3
"""Cross-server figures benchmark: a global leaderboard page, a publish, and `global rebuild`.

    python scripts/bench_global.py [--members 100000] [--servers 10000] [--guild-files 500] [--runs 300]

1. The store filled with `--servers` sharing servers and `--members` published members (1-3 joins each),
   and, for comparison, the same members over 10 servers: p50/p99 of a leaderboard page (what
   `/global leaderboard` reads: the top 250 of one index and the caller's rank) and of a publish (one
   server's figures and 10 of its members' joins, their totals recomputed, in one transaction).
2. `--guild-files` guild files (5 members with XP each), all sharing, all members joined: the time of
   `rebuild_store` over them (reads every sharing file once; linear in the number of files).
Prints a table, then one JSON line. Run it once, on a quiet machine if you can.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db import GuildDatabaseManager
from app.features.leaderboard import Kind
from app.features.xp import add_xp, level_for_xp
from app.shared.figures import MemberFigures, ServerFigures
from app.shared.publish import publish_figures
from app.shared.read import fetch_global_board
from app.shared.rebuild import rebuild_store
from app.shared.store import STORE_FILE_NAME, SharedStore

NOW = datetime.now(UTC)
BASE_GUILD = 10**17
BASE_USER = 5 * 10**17


def fill(root: Path, servers: int, members: int, seed: int = 1) -> dict[int, list[int]]:
    """Bulk rows straight into the store (built from its template first); returns joins by server."""
    rng = random.Random(seed)
    conn = sqlite3.connect(root / STORE_FILE_NAME)
    joins: dict[int, list[int]] = {}
    with conn:
        conn.executemany("INSERT INTO servers (guild_id, name, members, chapters_month, chapters_total, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                         ((BASE_GUILD + s, f"server {s}", rng.randint(1, 500), rng.randint(0, 10**4),
                           rng.randint(0, 10**6), "now") for s in range(servers)))
        member_rows, join_rows = [], []
        for m in range(members):
            user_id = BASE_USER + m
            totals = [0, 0, 0]
            for guild in rng.sample(range(servers), min(servers, rng.randint(1, 3))):
                figures = (rng.randint(0, 5000), rng.randint(0, 50_000), rng.randint(0, 12))
                join_rows.append((user_id, BASE_GUILD + guild, *figures))
                joins.setdefault(BASE_GUILD + guild, []).append(user_id)
                totals = [a + b for a, b in zip(totals, figures, strict=True)]
            member_rows.append((user_id, f"member {m}", totals[0], totals[1], level_for_xp(totals[1]), totals[2]))
        conn.executemany("INSERT INTO members (user_id, display_name, chapters, xp, level, achievements, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, 'now')", member_rows)
        conn.executemany("INSERT INTO member_joins (user_id, guild_id, chapters, xp, achievements) "
                         "VALUES (?, ?, ?, ?, ?)", join_rows)
    conn.close()
    return joins


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


async def time_store(root: Path, servers: int, members: int, runs: int) -> dict[str, float]:
    store = SharedStore(root)
    try:
        await store.db()  # builds the file from its template
        joins = fill(root, servers, members)
        db = await store.db()
        rng = random.Random(2)
        reads, writes = [], []
        kinds = list(Kind)
        for i in range(runs):
            start = time.perf_counter()
            await fetch_global_board(db, kinds[i % 3], BASE_USER + rng.randrange(members))
            reads.append(time.perf_counter() - start)
        guilds = list(joins)
        for _ in range(runs):
            guild_id = rng.choice(guilds)
            figures = {u: MemberFigures(rng.randint(0, 5000), rng.randint(0, 50_000), 3) for u in joins[guild_id][:10]}
            start = time.perf_counter()
            await publish_figures(db, guild_id, ServerFigures(10, 100, 1000, (("Action", 3),), 1), figures, NOW)
            writes.append(time.perf_counter() - start)
    finally:
        await store.close()
    return {"servers": servers, "members": members, "page_p50_ms": pct(reads, 0.5), "page_p99_ms": pct(reads, 0.99),
            "publish_p50_ms": pct(writes, 0.5), "publish_p99_ms": pct(writes, 0.99)}


async def time_rebuild(root: Path, files: int) -> dict[str, float]:
    async with GuildDatabaseManager(root, max_open=64) as manager:
        start = time.perf_counter()
        for g in range(files):
            async with manager.connect(BASE_GUILD + g) as db:
                await add_xp(db, [(BASE_USER + g * 5 + m, 100 + m) for m in range(5)])
        built = time.perf_counter() - start
        store = SharedStore(root)
        await store.db()
        await store.close()
        conn = sqlite3.connect(root / STORE_FILE_NAME)
        with conn:
            conn.executemany("INSERT INTO servers (guild_id, name, updated_at) VALUES (?, ?, 'now')",
                             ((BASE_GUILD + g, f"s{g}") for g in range(files)))
            conn.executemany("INSERT INTO member_joins (user_id, guild_id) VALUES (?, ?)",
                             ((BASE_USER + g * 5 + m, BASE_GUILD + g) for g in range(files) for m in range(5)))
            conn.executemany("INSERT INTO members (user_id, display_name, updated_at) VALUES (?, 'm', 'now')",
                             ((BASE_USER + g * 5 + m,) for g in range(files) for m in range(5)))
        conn.close()
        start = time.perf_counter()
        report = await rebuild_store(manager, NOW)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = await rebuild_store(manager, NOW)
        second = time.perf_counter() - start
    return {"guild_files": files, "build_files_s": round(built, 2), "rebuild_s": round(first, 2),
            "rebuild_again_s": round(second, 2), "per_file_ms": round(second / files * 1000, 3),
            "differences_first": len(report.differences), "differences_again": len(again.differences)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--guild-files", type=int, default=500)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as small, tempfile.TemporaryDirectory() as large, \
            tempfile.TemporaryDirectory() as files:
        results["small"] = await time_store(Path(small), 10, args.members, args.runs)
        results["large"] = await time_store(Path(large), args.servers, args.members, args.runs)
        results["rebuild"] = await time_rebuild(Path(files), args.guild_files)
    for name in ("small", "large"):
        r = results[name]
        print(f"{r['servers']:>7,} servers {r['members']:>8,} members: leaderboard page p50 {r['page_p50_ms']} ms "
              f"p99 {r['page_p99_ms']} ms; publish p50 {r['publish_p50_ms']} ms p99 {r['publish_p99_ms']} ms")
    rb = results["rebuild"]
    print(f"rebuild over {rb['guild_files']:,} sharing guild files: {rb['rebuild_s']} s "
          f"(again {rb['rebuild_again_s']} s, {rb['per_file_ms']} ms per file; differences "
          f"{rb['differences_first']} seeded then {rb['differences_again']})")
    print(json.dumps({"median_of": args.runs, **results, "note": "shared 2-core machine"}))


if __name__ == "__main__":
    asyncio.run(main())
