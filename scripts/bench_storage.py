#!/usr/bin/env python3
"""Storage benchmark: GuildDatabaseManager (one file per guild) against one monolithic SQLite file.

Both sides run in this process on the same pre-generated workload: 80% indexed point
reads (one `execute_fetchall`), 20% single-row upserts each in its own transaction
(`BEGIN IMMEDIATE`, upsert, `COMMIT`: the manager's `db.transaction()`, the monolith
behind an `asyncio.Lock` on one aiosqlite connection), 16 concurrent tasks.

    pip install -e '.[bench]'   # aiosqlite, for the monolith side (asyncpg, for --postgres)
    python scripts/bench_storage.py [--quick] [--ops N] [--workdir DIR] [--postgres DSN] [--convert N]

Scenarios: (a) hot, 200 guilds, max_open=256; (b) churn, 10,000 guilds with Zipf(1.1)
popularity, max_open=256. Also: median cost of opening an existing guild file and of
creating a new one (template image vs running the SQL script), peak RSS, threads, fds,
the manager's miss rate and mean cost of a miss, and the data-rights figures
(scripts/bench_rights.py). With --postgres, the same mixes and per-call figures also run against
PostgreSQL (scripts/_bench_postgres.py: one table per kind with a guild_id column, asyncpg, a pool
of 16). Prints a table, then one JSON line. `--convert N` measures only `python -m app db migrate`
converting N guild files with 4 KiB pages to the template's 1 KiB.
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import dataclasses
import gc
import itertools
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the PostgreSQL side, however the script is started

from _bench_postgres import POOL_SIZE, PostgresSide, PostgresUnavailable

from app.bot.app import tune_runtime
from app.db import GUILD_SCHEMA, GuildDatabaseManager, native
from app.db import files as db_files
from app.db.convert import convert_file
from app.db.slots import DEFAULT_POLICY

# The bot's SQLite module (pysqlite3 where the platform's is old): `native` calls into its library, so its
# connections must come from it (`sqlite3` above is the platform's, imported first, as aiosqlite's).
ENGINE_SQLITE = db_files.sqlite3
CONCURRENCY = 16
MEMBERS = 20  # rows per guild in the benchmarked table
BASE_GUILD = 10**17
MONOLITH_SCHEMA = """
CREATE TABLE user_xp (guild_id INTEGER NOT NULL, discord_id INTEGER NOT NULL, xp INTEGER NOT NULL DEFAULT 0,
                      level INTEGER NOT NULL DEFAULT 0, last_gain_at TEXT, PRIMARY KEY (guild_id, discord_id)) STRICT;
"""
READ_GUILD = "SELECT xp, level FROM user_xp WHERE discord_id = ?"
WRITE_GUILD = ("INSERT INTO user_xp (discord_id, xp) VALUES (?, 1) "
               "ON CONFLICT (discord_id) DO UPDATE SET xp = xp + 1")
READ_MONO = "SELECT xp, level FROM user_xp WHERE guild_id = ? AND discord_id = ?"
WRITE_MONO = ("INSERT INTO user_xp (guild_id, discord_id, xp) VALUES (?, ?, 1) "
              "ON CONFLICT (guild_id, discord_id) DO UPDATE SET xp = xp + 1")

Op = tuple[int, int, bool]  # guild id, member id, is a write


# -- process figures -----------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class LagTicker:
    """The event loop's lag: a task asks to wake every millisecond and records how late it woke.

    Two measures: wall-clock lateness (what a heartbeat sees, including time the OS gave the
    loop's thread to other processes on a shared machine), and the loop thread's CPU time
    spent meanwhile beyond the period (the work that held the loop: what this code controls).
    """

    PERIOD = 0.001

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.cpu_lags: list[float] = []
        self.cpu_lags_no_gc: list[float] = []  # less the cyclic GC's pauses on the loop's thread
        self._task: asyncio.Task[None] | None = None
        self._gc_seconds = self._gc_started = 0.0
        self._loop_thread = threading.get_ident()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self._gc_seconds += time.thread_time() - self._gc_started

    async def _run(self) -> None:
        while True:
            start, cpu, gc_before = time.perf_counter(), time.thread_time(), self._gc_seconds
            await asyncio.sleep(self.PERIOD)
            self.lags.append(max(time.perf_counter() - start - self.PERIOD, 0.0))
            busy = time.thread_time() - cpu - self.PERIOD
            self.cpu_lags.append(max(busy, 0.0))
            self.cpu_lags_no_gc.append(max(busy - (self._gc_seconds - gc_before), 0.0))

    @staticmethod
    def _percentile_ms(samples: list[float], q: float) -> float:
        if not samples:
            return 0.0
        ordered = sorted(samples)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000

    def percentile_ms(self, q: float) -> float:
        return self._percentile_ms(self.lags, q)

    def cpu_percentile_ms(self, q: float) -> float:
        return self._percentile_ms(self.cpu_lags, q)

    def cpu_no_gc_percentile_ms(self, q: float) -> float:
        return self._percentile_ms(self.cpu_lags_no_gc, q)

    def __enter__(self) -> LagTicker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        gc.callbacks.append(self._gc)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        gc.callbacks.remove(self._gc)


class Sampler:
    """Samples RSS, threads and fds every 50 ms while a phase runs, on a thread of its own.

    Not on the event loop: listing /proc/self/fd with 800 descriptors open took up to 2.4 ms, twenty
    times a second, and that was most of the loop lag measured in churn (the monolith side, with 13
    descriptors, barely paid it). The sampler's thread itself is not counted in `threads`.
    """

    PERIOD = 0.05

    def __init__(self) -> None:
        self.rss = self.threads = self.fds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.rss = max(self.rss, rss_mb())
            self.threads = max(self.threads, threading.active_count() - 1)
            self.fds = max(self.fds, open_fds())
            if self._stop.wait(self.PERIOD):
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- data ----------------------------------------------------------------------------
def guild_ids(n: int) -> list[int]:
    return [BASE_GUILD + i for i in range(n)]


def populate_guild_files(root: Path, ids: list[int]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for guild_id in ids:
        path = root / f"{guild_id}.sqlite3"
        if path.exists():
            continue
        db_files.build_file(path, GUILD_SCHEMA, guild_id)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", [(m, m) for m in range(MEMBERS)])
        conn.commit()
        conn.close()


def populate_monolith(path: Path, ids: list[int]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(MONOLITH_SCHEMA)
    conn.executemany("INSERT INTO user_xp (guild_id, discord_id, xp) VALUES (?, ?, ?)",
                     [(g, m, m) for g in ids for m in range(MEMBERS)])
    conn.commit()
    conn.close()


def workload(ids: list[int], n_ops: int, *, zipf: float | None, seed: int) -> list[Op]:
    rng = random.Random(seed)
    if zipf is None:
        picks = [rng.choice(ids) for _ in range(n_ops)]
    else:
        ranked = ids[:]
        rng.shuffle(ranked)
        cumulative = list(itertools.accumulate(1 / (k ** zipf) for k in range(1, len(ranked) + 1)))
        total = cumulative[-1]
        picks = [ranked[bisect.bisect_left(cumulative, rng.random() * total)] for _ in range(n_ops)]
    return [(g, rng.randrange(MEMBERS), rng.random() < 0.2) for g in picks]


# -- the two sides -------------------------------------------------------------------
@dataclass
class RunResult:
    ops_per_s: float
    seconds: float
    errors: int
    rss_mb: float
    threads: int
    fds: int
    miss_rate: float = 0.0
    miss_cost_ms: float = 0.0
    open_at_end: int = 0
    lag_p999_ms: float = 0.0
    lag_max_ms: float = 0.0
    cpu_lag_p999_ms: float = 0.0
    cpu_lag_no_gc_p999_ms: float = 0.0


async def _drive(ops: list[Op], one: object) -> tuple[float, int]:
    it = iter(ops)
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for op in it:
            try:
                await one(*op)  # type: ignore[operator]
            except Exception:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start, errors


async def run_manager(root: Path, ops: list[Op], warmup: list[Op], *, max_open: int,
                      policy: str = DEFAULT_POLICY, query_threads: int = 1, inline: bool = True,
                      remove_side_files: bool = False) -> RunResult:
    options = db_files.OpenOptions(inline_vm_steps=db_files.OpenOptions().inline_vm_steps if inline else 0,
                                   remove_side_files=remove_side_files)
    async with GuildDatabaseManager(root, max_open=max_open, policy=policy,
                                    query_threads=query_threads, options=options) as manager:

        async def one(guild_id: int, member: int, write: bool) -> None:
            async with manager.connect(guild_id) as db:
                if write:
                    async with db.transaction():
                        await db.execute(WRITE_GUILD, (member,))
                else:
                    await db.execute_fetchall(READ_GUILD, (member,))

        await _drive(warmup, one)
        before = manager.stats()
        with Sampler() as sampler, LagTicker() as ticker:
            seconds, errors = await _drive(ops, one)
        after = manager.stats()
        misses = after.misses - before.misses
        lookups = misses + after.hits - before.hits
        opens = after.opens - before.opens
        closes = after.closes - before.closes
        miss_cost = ((after.open_seconds - before.open_seconds) / max(opens, 1)
                     + (after.close_seconds - before.close_seconds) / max(closes, 1)) * 1000
        return RunResult(len(ops) / seconds, seconds, errors, sampler.rss, int(sampler.threads),
                         int(sampler.fds), misses / max(lookups, 1), miss_cost if misses else 0.0,
                         after.open_now, ticker.percentile_ms(0.999), ticker.percentile_ms(1.0),
                         ticker.cpu_percentile_ms(0.999), ticker.cpu_no_gc_percentile_ms(0.999))


async def run_monolith(path: Path, ops: list[Op], warmup: list[Op], *, cache_kib: int) -> RunResult:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON",
                       "busy_timeout = 5000", f"cache_size = -{cache_kib}"):
            await conn.execute(f"PRAGMA {pragma}")
        conn.row_factory = sqlite3.Row
        lock = asyncio.Lock()

        async def one(guild_id: int, member: int, write: bool) -> None:
            if write:
                async with lock:
                    await conn.execute("BEGIN IMMEDIATE")
                    try:
                        await conn.execute(WRITE_MONO, (guild_id, member))
                    except BaseException:
                        await conn.execute("ROLLBACK")
                        raise
                    await conn.execute("COMMIT")
            else:
                await conn.execute_fetchall(READ_MONO, (guild_id, member))

        await _drive(warmup, one)
        with Sampler() as sampler, LagTicker() as ticker:
            seconds, errors = await _drive(ops, one)
    return RunResult(len(ops) / seconds, seconds, errors, sampler.rss, int(sampler.threads), int(sampler.fds),
                     lag_p999_ms=ticker.percentile_ms(0.999), lag_max_ms=ticker.percentile_ms(1.0),
                     cpu_lag_p999_ms=ticker.cpu_percentile_ms(0.999),
                     cpu_lag_no_gc_p999_ms=ticker.cpu_no_gc_percentile_ms(0.999))


async def run_postgres(side: PostgresSide, ops: list[Op], warmup: list[Op]) -> RunResult:
    await _drive(warmup, side.one)
    with Sampler() as sampler, LagTicker() as ticker:
        seconds, errors = await _drive(ops, side.one)
    return RunResult(len(ops) / seconds, seconds, errors, sampler.rss, int(sampler.threads), int(sampler.fds),
                     lag_p999_ms=ticker.percentile_ms(0.999), lag_max_ms=ticker.percentile_ms(1.0),
                     cpu_lag_p999_ms=ticker.cpu_percentile_ms(0.999),
                     cpu_lag_no_gc_p999_ms=ticker.cpu_no_gc_percentile_ms(0.999))


# -- per-call overhead ------------------------------------------------------------------
def _best_per_call_us(timings: list[float], calls: int) -> float:
    return min(timings) / calls * 1e6


async def measure_overhead(root: Path, guild_id: int, calls: int, batches: int = 40) -> dict[str, float]:
    """µs per call, one call at a time, on one open guild: the manager against raw sqlite3 on the same file.

    Same process, same file, same statements, short batches alternated; best batch of each (on a
    shared machine a long batch always includes time the OS gave to other processes: short ones
    let both sides show a batch that ran undisturbed).
    Reads: one indexed point read. Writes: BEGIN IMMEDIATE, one upsert, COMMIT.
    """
    path = root / f"{guild_id}.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    options = db_files.OpenOptions()
    raw.executescript(f"PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
                      f"PRAGMA cache_size = -{options.cache_kib};")  # as the manager's
    times: dict[str, list[float]] = {"manager_read": [], "raw_read": [], "manager_write": [], "raw_write": []}
    async with GuildDatabaseManager(root, max_open=4) as manager, manager.connect(guild_id) as db:
        await db.execute_fetchall(READ_GUILD, (1,))
        for _ in range(batches):
            start = time.perf_counter()
            for i in range(calls):
                await db.execute_fetchall(READ_GUILD, (i % MEMBERS,))
            times["manager_read"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(calls):
                raw.execute(READ_GUILD, (i % MEMBERS,)).fetchall()
            times["raw_read"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(calls):
                async with db.transaction():
                    await db.execute(WRITE_GUILD, (i % MEMBERS,))
            times["manager_write"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(calls):
                raw.execute("BEGIN IMMEDIATE")
                raw.execute(WRITE_GUILD, (i % MEMBERS,))
                raw.execute("COMMIT")
            times["raw_write"].append(time.perf_counter() - start)
    raw.close()
    return {key: _best_per_call_us(value, calls) for key, value in times.items()}


async def measure_monolith_overhead(path: Path, guild_id: int, calls: int) -> dict[str, float]:
    """The same calls through aiosqlite on the monolith (its thread hop, for comparison)."""
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA synchronous = NORMAL")
        start = time.perf_counter()
        for i in range(calls):
            await conn.execute_fetchall(READ_MONO, (guild_id, i % MEMBERS))
        read = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(calls):
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute(WRITE_MONO, (guild_id, i % MEMBERS))
            await conn.execute("COMMIT")
        write = time.perf_counter() - start
    return {"aiosqlite_read": read / calls * 1e6, "aiosqlite_write": write / calls * 1e6}


# -- cost of one open connection -----------------------------------------------------
async def measure_connection_cost(work: Path, n: int) -> dict[str, float]:
    """RSS and descriptors that `n` open guild connections add (each has answered a point read and a
    write), per connection; for sizing MAX_OPEN_GUILD_DBS."""
    root = work / "hot-guilds"
    ids = guild_ids(n)
    populate_guild_files(root, ids)
    async with GuildDatabaseManager(root, max_open=n) as manager:
        async with manager.connect_bot():
            pass
        rss0, fds0 = rss_mb(), open_fds()
        for guild_id in ids:
            async with manager.connect(guild_id) as db:
                await db.execute_fetchall(READ_GUILD, (1,))
                async with db.transaction():
                    await db.execute(WRITE_GUILD, (1,))
        rss1, fds1 = rss_mb(), open_fds()
    return {"connections": n, "rss_mb_per_connection": (rss1 - rss0) / n, "fds_per_connection": (fds1 - fds0) / n}


# -- bytes on disk ---------------------------------------------------------------------
def disk_bytes(paths: list[Path]) -> int:
    """Allocated bytes (what `du` counts) of these files, those that exist."""
    return sum(p.stat().st_blocks * 512 for p in paths if p.exists())


def folder_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.iterdir() if p.is_file()]
    return disk_bytes(files), len(files)


def _guild_bytes(root: Path, guild_id: int) -> int:
    return disk_bytes([root / f"{guild_id}.sqlite3{s}" for s in ("", "-wal", "-shm")])


async def measure_footprint(work: Path, n_guilds: int, rows: int, large_rows: int) -> dict[str, float]:
    """Bytes of guilds written through the manager (`rows` each), with their side files, against a
    monolith holding the same rows; a guild only read (no file with GUILD_FILE_CREATION=first-write, the mode
    measured here), one written once; one large guild against its rows in the monolith."""
    root = Path(tempfile.mkdtemp(prefix="footprint-", dir=work))
    ids = guild_ids(n_guilds)
    lazy = db_files.OpenOptions(lazy_files=True)
    async with GuildDatabaseManager(root, max_open=64, options=lazy) as manager:
        for guild_id in ids:
            async with manager.connect(guild_id) as db, db.transaction():
                for member in range(rows):
                    await db.execute(WRITE_GUILD, (BASE_GUILD + member,))
        async with manager.connect(1) as db:  # read, never written: no file
            await db.execute_fetchall(READ_GUILD, (1,))
        async with manager.connect(3) as db:  # one row written: the file is built
            await db.execute(WRITE_GUILD, (BASE_GUILD,))
        for guild_id in (1, 3, ids[-1]):
            await manager.evict(guild_id)
        evicted_bytes, evicted_files = folder_bytes(root)
        async with manager.exclusive(1), manager.exclusive(3):
            empty_evicted, one_write_evicted = (_guild_bytes(root, 1), _guild_bytes(root, 3))
    empty, one_write = _guild_bytes(root, 1), _guild_bytes(root, 3)
    closed_bytes, closed_files = folder_bytes(root)
    closed_bytes -= disk_bytes([root / "3.sqlite3", root / "bot-wide.sqlite3"])
    small = closed_bytes / n_guilds
    mono = root.parent / f"{root.name}-monolith.sqlite3"
    conn = sqlite3.connect(mono, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(MONOLITH_SCHEMA)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO user_xp (guild_id, discord_id, xp) VALUES (?, ?, 1)",
                     [(g, BASE_GUILD + m) for g in ids for m in range(rows)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    mono_bytes = disk_bytes([mono])
    large_id = 2
    async with GuildDatabaseManager(root, max_open=4) as manager, manager.connect(large_id) as db:
        await db.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, 1)",
                             [(BASE_GUILD + m,) for m in range(large_rows)])
    large = disk_bytes([root / f"{large_id}.sqlite3"])
    large_mono_path = root.parent / f"{root.name}-large-monolith.sqlite3"
    conn = sqlite3.connect(large_mono_path)
    conn.executescript(MONOLITH_SCHEMA)
    conn.executemany("INSERT INTO user_xp (guild_id, discord_id, xp) VALUES (?, ?, 1)",
                     [(large_id, BASE_GUILD + m) for m in range(large_rows)])
    conn.commit()
    conn.close()
    large_mono = disk_bytes([large_mono_path])
    return {"guilds": n_guilds, "rows_per_guild": rows, "evicted_folder_bytes": evicted_bytes,
            "evicted_files": evicted_files, "closed_folder_bytes": closed_bytes, "closed_files": closed_files,
            "monolith_bytes": mono_bytes, "disk_ratio": closed_bytes / mono_bytes, "empty_guild_bytes": empty,
            "empty_guild_bytes_evicted": empty_evicted, "one_write_guild_bytes": one_write,
            "one_write_guild_bytes_evicted": one_write_evicted,
            "small_guild_bytes": small, "large_rows": large_rows, "large_guild_bytes": large,
            "large_monolith_bytes": large_mono, "large_disk_ratio": large / large_mono}


def build_old_fleet(work: Path, n_guilds: int, rows: int) -> Path:
    """`n_guilds` files with 4 KiB pages (as the template made them before 1 KiB pages), `rows` rows each."""
    root = Path(tempfile.mkdtemp(prefix="convert-", dir=work))
    old_schema = dataclasses.replace(GUILD_SCHEMA, page_size=4096)
    for guild_id in guild_ids(n_guilds):
        path = root / f"{guild_id}.sqlite3"
        db_files.build_file(path, old_schema, guild_id)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, 1)",
                         [(BASE_GUILD + m,) for m in range(rows)])
        conn.close()
    return root


def convert_fleet(work: Path, n_guilds: int, rows: int) -> tuple[float, int, int]:
    """Files with 4 KiB pages converted to 1 KiB pages (app/db/convert.py, one thread): ms per file,
    bytes before and after."""
    root = build_old_fleet(work, n_guilds, rows)
    before = folder_bytes(root)[0]
    start = time.perf_counter()
    for path in sorted(root.iterdir()):
        convert_file(path, GUILD_SCHEMA, identity=int(path.name.removesuffix(".sqlite3")))
    seconds = time.perf_counter() - start
    return seconds / n_guilds * 1000, before, folder_bytes(root)[0]


def measure_db_migrate(work: Path, n_guilds: int, rows: int) -> dict[str, object]:
    """`python -m app db migrate --json` (a subprocess, the operator's command) converting `n_guilds`
    4 KiB-page files: wall time, ms per file, bytes of the fleet before and after."""
    root = build_old_fleet(work, n_guilds, rows)
    before_disk, files_before = folder_bytes(root)
    env = {**os.environ, "GUILD_DBS_DIR": str(root)}
    for name in ("SHARD_IDS", "SHARD_COUNT"):
        env.pop(name, None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app", "db", "migrate", "--json"], env=env,
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"db migrate failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    report = json.loads(done.stdout)
    after_disk, files_after = folder_bytes(root)
    again = subprocess.run([sys.executable, "-m", "app", "db", "migrate", "--json"], env=env,
                           cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True)
    return {"convert_guilds": n_guilds, "convert_rows_per_guild": rows, "convert_wall_s": round(seconds, 2),
            "convert_ms_per_file": round(seconds / n_guilds * 1000, 3),
            "convert_only_s": report["convert_seconds"], "converted": report["converted"],
            "convert_bytes_before": report["bytes_before"], "convert_bytes_after": report["bytes_after"],
            "convert_disk_bytes_before": before_disk, "convert_disk_bytes_after": after_disk,
            "convert_files_before": files_before, "convert_files_after": files_after,
            "converted_second_run": json.loads(again.stdout)["converted"]}


def measure_miss_modes(root: Path, ids: list[int]) -> dict[str, float]:
    """Median ms of one cache miss (open an existing file, a point read, an upsert, close), in two threads
    at once as in the bot (opens and closes interleave): the manager's settings (shared -shm, mapped at
    open and unmapped at close) against `locking_mode=EXCLUSIVE` (the WAL index on the heap, no -shm,
    but no other process can open the file while the bot has it open)."""
    results: dict[str, float] = {}
    half = len(ids) // 2
    for label, extra in (("shared", ""), ("exclusive", "PRAGMA locking_mode = EXCLUSIVE;")):
        samples: list[float] = []

        def cycle(chunk: list[int], extra: str = extra, samples: list[float] = samples) -> None:
            for guild_id in chunk:
                start = time.perf_counter()
                conn = ENGINE_SQLITE.connect(root / f"{guild_id}.sqlite3", isolation_level=None,
                                             check_same_thread=False)
                native.skip_checkpoint_on_close(conn)
                conn.executescript(f"{extra} PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256;")
                conn.execute(READ_GUILD, (1,)).fetchall()
                conn.execute(WRITE_GUILD, (1,))
                native.close_connection(conn, root / f"{guild_id}.sqlite3")
                samples.append(time.perf_counter() - start)

        threads = [threading.Thread(target=cycle, args=(part,)) for part in (ids[:half], ids[half:])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results[f"miss_{label}_ms"] = _median_ms(samples)
    return results


# -- open and create -------------------------------------------------------------------
def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure_open_existing(root: Path, ids: list[int]) -> tuple[float, float]:
    """Median ms to open an existing guild file (pragmas, identity check) and to close it after a write."""
    options, opens, closes = db_files.OpenOptions(), [], []
    for guild_id in ids:
        start = time.perf_counter()
        conn, _ = db_files.open_file(root / f"{guild_id}.sqlite3", GUILD_SCHEMA, guild_id, options, False)
        opens.append(time.perf_counter() - start)
        conn.execute(WRITE_GUILD, (1,))
        start = time.perf_counter()
        conn.close()
        closes.append(time.perf_counter() - start)
    return _median_ms(opens), _median_ms(closes)


def measure_open_parts(root: Path, ids: list[int]) -> dict[str, float]:
    """What an open costs (mean ms): opening the WAL file (`PRAGMA schema_version`: header, -wal, -shm) and
    parsing the schema (the first statement that needs it) alone, then a whole open (as the bot: quota set,
    no busy wait) alone and with a Python thread busy beside it, as the event loop's is: every call into
    SQLite gives the GIL away and waits up to `sys.setswitchinterval` to get it back."""
    wal, parse = [], []
    for guild_id in ids:
        conn = ENGINE_SQLITE.connect(root / f"{guild_id}.sqlite3", isolation_level=None)
        native.skip_checkpoint_on_close(conn)
        start = time.perf_counter()
        native.exec_script(conn, "PRAGMA schema_version;")
        opened = time.perf_counter()
        native.exec_script(conn, "PRAGMA synchronous = NORMAL;")
        wal.append(opened - start)
        parse.append(time.perf_counter() - opened)
        conn.close()
    options = db_files.OpenOptions(max_page_count=100 * 1024)

    def whole_opens() -> float:
        took = []
        for guild_id in ids:
            start = time.perf_counter()
            conn, _ = db_files.open_guild(root / f"{guild_id}.sqlite3", GUILD_SCHEMA, guild_id, options, lock_wait_s=0)
            took.append(time.perf_counter() - start)
            conn.close()
        return statistics.mean(took) * 1000

    alone = whole_opens()
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(range(200))

    spinner = threading.Thread(target=busy, daemon=True)
    spinner.start()
    try:
        contended = whole_opens()
    finally:
        stop.set()
        spinner.join()
    return {"open_wal_ms": statistics.mean(wal) * 1000, "open_schema_parse_ms": statistics.mean(parse) * 1000,
            "open_alone_ms": alone, "open_contended_ms": contended}


def _create_by_script(path: Path, guild_id: int) -> sqlite3.Connection:
    """The alternative to the template image: run the schema script for every new file."""
    tmp = path.with_name(f".{path.name}.building")
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(GUILD_SCHEMA.sql_path.read_text())
    conn.execute("UPDATE guild_meta SET guild_id = ?", (guild_id,))
    conn.close()
    fd = os.open(tmp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def measure_create(root: Path, n: int) -> tuple[float, float]:
    """Median ms to create a new guild file: from the template image, and by running the SQL script."""
    root.mkdir(parents=True, exist_ok=True)
    options, image, script = db_files.OpenOptions(), [], []
    GUILD_SCHEMA.image  # noqa: B018  (built once per process, not part of a creation)
    for i in range(n):
        guild_id = 9 * 10**17 + i
        start = time.perf_counter()
        conn, created = db_files.open_file(root / f"{guild_id}.sqlite3", GUILD_SCHEMA, guild_id, options, True)
        image.append(time.perf_counter() - start)
        conn.close()
        assert created
        start = time.perf_counter()
        _create_by_script(root / f"{guild_id + n}.sqlite3", guild_id + n).close()
        script.append(time.perf_counter() - start)
    return _median_ms(image), _median_ms(script)


# -- main --------------------------------------------------------------------------------
async def scenario(name: str, work: Path, n_guilds: int, n_ops: int, zipf: float | None, *,
                   max_open: int, rounds: int, variants: bool,
                   postgres: PostgresSide | None = None) -> dict[str, RunResult]:
    ids = guild_ids(n_guilds)
    root, mono = work / f"{name}-guilds", work / f"{name}-monolith.sqlite3"
    started = time.perf_counter()
    populate_guild_files(root, ids)
    if not mono.exists():
        populate_monolith(mono, ids)
    if postgres:
        await postgres.load((g, m, m) for g in ids for m in range(MEMBERS))  # the monolith's rows
    print(f"[{name}] {n_guilds} guilds ready in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    ops = workload(ids, n_ops, zipf=zipf, seed=7)
    warmup = workload(ids, max(n_ops // 10, 1000), zipf=zipf, seed=8)
    tune_runtime()  # as `python -m app run` does once started: its start-up heap frozen, the GC's thresholds
    best: dict[str, RunResult] = {}

    def keep(label: str, result: RunResult) -> None:
        if label not in best or result.ops_per_s > best[label].ops_per_s:
            best[label] = result

    for _ in range(rounds):  # alternate sides so that neither always runs on a warmer machine
        keep("manager", await run_manager(root, ops, warmup, max_open=max_open))
        if n_guilds > max_open:  # evictions: the default (LRU) against W-TinyLFU admission (GUILD_CACHE_POLICY)
            keep("manager tinylfu", await run_manager(root, ops, warmup, max_open=max_open, policy="tinylfu"))
        keep("monolith", await run_monolith(mono, ops, warmup, cache_kib=256 * max_open))
        if postgres:
            keep("postgres", await run_postgres(postgres, ops, warmup))
    keep("manager, worker only", await run_manager(root, ops, warmup, max_open=max_open, inline=False))
    if n_guilds > max_open:  # evictions: does deleting the side files of idle guilds cost opens?
        keep("manager, side files removed", await run_manager(root, ops, warmup, max_open=max_open,
                                                              remove_side_files=True))
    if variants:
        keep("manager lfu", await run_manager(root, ops, warmup, max_open=max_open, policy="lfu"))
        keep("manager 2 sql threads", await run_manager(root, ops, warmup, max_open=max_open, query_threads=2))
    return best


def print_scenario(name: str, results: dict[str, RunResult]) -> None:
    mono = results["monolith"].ops_per_s
    print(f"\n{name}")
    print(f"  {'side':<24}{'ops/s':>10}{'ratio':>8}{'errors':>8}{'miss':>8}{'miss ms':>9}"
          f"{'RSS MB':>8}{'threads':>9}{'fds':>6}{'lag p99.9 ms':>14}{'cpu lag':>9}{'no gc':>7}")
    for label, r in results.items():
        print(f"  {label:<24}{r.ops_per_s:>10.0f}{r.ops_per_s / mono:>8.2f}{r.errors:>8}"
              f"{r.miss_rate:>8.1%}{r.miss_cost_ms:>9.2f}{r.rss_mb:>8.0f}{r.threads:>9}{r.fds:>6}"
              f"{r.lag_p999_ms:>14.2f}{r.cpu_lag_p999_ms:>9.2f}{r.cpu_lag_no_gc_p999_ms:>7.2f}")
    if "postgres" in results:
        postgres = results["postgres"].ops_per_s
        print(f"  against PostgreSQL: manager {results['manager'].ops_per_s / postgres:.2f}x, "
              f"monolith {mono / postgres:.2f}x")


async def idle_lag_ms(seconds: float) -> float:
    """p99.9 lag of the ticker alone: what the machine (other processes, the VM) adds by itself."""
    with LagTicker() as ticker:
        await asyncio.sleep(seconds)
    return ticker.percentile_ms(0.999)


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    postgres = await PostgresSide.open(args.postgres) if args.postgres else None  # a wrong DSN fails first
    try:
        figures = await measure_all(args, postgres)
    finally:
        if postgres:
            await postgres.close()
    return figures


async def measure_all(args: argparse.Namespace, postgres: PostgresSide | None) -> dict[str, object]:
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-storage-"))
    if postgres:
        print(f"PostgreSQL {postgres.version} at {postgres.shown_dsn}, a pool of {POOL_SIZE}")
    idle_lag = await idle_lag_ms(2.0)
    print(f"event loop lag of an idle loop (the machine's own noise): p99.9 {idle_lag:.2f} ms")
    churn_guilds = 2_000 if args.quick else 10_000
    n_ops = args.ops or (20_000 if args.quick else 60_000)
    rounds = 1 if args.quick else 2
    hot = await scenario("hot", work, 200, n_ops, None, max_open=256, rounds=rounds, variants=False,
                         postgres=postgres)
    print_scenario("(a) hot: 200 guilds, max_open=256", hot)
    churn = await scenario("churn", work, churn_guilds, n_ops, 1.1, max_open=256, rounds=rounds,
                           variants=not args.quick, postgres=postgres)
    print_scenario(f"(b) churn: {churn_guilds} guilds, Zipf(1.1), max_open=256", churn)
    overhead = await measure_overhead(work / "hot-guilds", guild_ids(1)[0], 100 if args.quick else 200)
    overhead.update(await measure_monolith_overhead(work / "hot-monolith.sqlite3", guild_ids(1)[0],
                                                    1000 if args.quick else 5000))
    print("\nper call, one at a time on one open guild (µs): "
          + ", ".join(f"{k} {v:.1f}" for k, v in overhead.items()))
    read_ratio = overhead["manager_read"] / overhead["raw_read"]
    write_ratio = overhead["manager_write"] / overhead["raw_write"]
    print(f"  manager / raw sqlite3: read {read_ratio:.2f}x, upsert transaction {write_ratio:.2f}x (target <= 3x)")
    postgres_calls = await postgres.per_call_us(guild_ids(1)[0], 1000 if args.quick else 5000,
                                                MEMBERS) if postgres else {}
    if postgres_calls:
        print("  PostgreSQL, one call at a time on one pooled connection (µs): "
              + ", ".join(f"{k.removeprefix('postgres_')} {v:.1f}" for k, v in postgres_calls.items()))
    lag_p999 = max(hot["manager"].lag_p999_ms, churn["manager"].lag_p999_ms)
    cpu_lag_p999 = max(hot["manager"].cpu_lag_p999_ms, churn["manager"].cpu_lag_p999_ms)
    cpu_lag_no_gc = max(hot["manager"].cpu_lag_no_gc_p999_ms, churn["manager"].cpu_lag_no_gc_p999_ms)
    lag_max = max(hot["manager"].lag_max_ms, churn["manager"].lag_max_ms)
    print(f"event loop lag during manager runs: p99.9 {lag_p999:.2f} ms (hot {hot['manager'].lag_p999_ms:.2f}, "
          f"churn {churn['manager'].lag_p999_ms:.2f}; max {lag_max:.2f}); "
          f"monolith (aiosqlite) p99.9 {max(hot['monolith'].lag_p999_ms, churn['monolith'].lag_p999_ms):.2f} ms; "
          f"the loop's own CPU time beyond the tick: p99.9 {cpu_lag_p999:.2f} ms, {cpu_lag_no_gc:.2f} ms less the "
          f"cyclic GC's pauses (target <= 2 ms)")
    footprint = await measure_footprint(work, 200 if args.quick else 2000, 21, 10_000 if args.quick else 100_000)
    print(f"\nbytes on disk: {footprint['guilds']} guilds x {footprint['rows_per_guild']} rows written through the "
          f"manager: {footprint['evicted_folder_bytes'] / 2**20:.1f} MiB in {footprint['evicted_files']} files "
          f"while running (evicted guilds keep their -wal until shutdown), "
          f"{footprint['closed_folder_bytes'] / 2**20:.2f} MiB in {footprint['closed_files']} files after close_all; "
          f"monolith {footprint['monolith_bytes'] / 2**20:.2f} MiB (disk_ratio {footprint['disk_ratio']:.1f}x)")
    print(f"  after close_all: guild only read {footprint['empty_guild_bytes'] / 1024:.0f} KiB "
          f"({footprint['empty_guild_bytes_evicted'] / 1024:.0f} KiB evicted while running), guild written once "
          f"{footprint['one_write_guild_bytes'] / 1024:.0f} KiB "
          f"({footprint['one_write_guild_bytes_evicted'] / 1024:.0f} KiB evicted while running), small guild "
          f"{footprint['small_guild_bytes'] / 1024:.1f} KiB (target <= 64 KiB), large guild "
          f"({footprint['large_rows']} rows) {footprint['large_guild_bytes'] / 2**20:.2f} MiB vs "
          f"{footprint['large_monolith_bytes'] / 2**20:.2f} MiB in a monolith ({footprint['large_disk_ratio']:.2f}x)")
    cost = await measure_connection_cost(work, 256 if args.quick else 1024)
    print(f"one open connection (after a read and a write): {cost['rss_mb_per_connection']:.3f} MB of RSS, "
          f"{cost['fds_per_connection']:.1f} descriptors ({cost['connections']} open)")
    convert_n = 200 if args.quick else 1000
    convert_ms, convert_before, convert_after = convert_fleet(work, convert_n, 21)
    print(f"  converting {convert_n} files from 4 KiB to 1 KiB pages (VACUUM): {convert_ms:.2f} ms a file "
          f"({convert_ms * 10:.0f} s for 10,000 guilds, one thread), {convert_before / 2**20:.1f} -> "
          f"{convert_after / 2**20:.1f} MiB")
    modes = measure_miss_modes(work / "churn-guilds", guild_ids(churn_guilds)[:400])
    print(f"one miss (open, read, upsert, close; two threads): shared -shm {modes['miss_shared_ms']:.3f} ms, "
          f"locking_mode=EXCLUSIVE (WAL index on the heap) {modes['miss_exclusive_ms']:.3f} ms")
    open_ms, close_ms = measure_open_existing(work / "churn-guilds", guild_ids(churn_guilds)[-200:])
    create_ms, script_ms = measure_create(Path(tempfile.mkdtemp(prefix="create-", dir=work)), 50 if args.quick else 200)
    print(f"\nopen existing file: median {open_ms:.3f} ms (close after a write {close_ms:.3f} ms)")
    parts = measure_open_parts(work / "churn-guilds", guild_ids(churn_guilds)[-400:-200])
    print(f"  an open, mean: the WAL file {parts['open_wal_ms']:.3f} ms + parsing the schema "
          f"{parts['open_schema_parse_ms']:.3f} ms; whole, as the bot: {parts['open_alone_ms']:.3f} ms alone, "
          f"{parts['open_contended_ms']:.3f} ms beside a busy Python thread (GIL hand-offs, "
          f"switch interval {sys.getswitchinterval() * 1000:g} ms)")
    print(f"create new file:    median {create_ms:.3f} ms from the template image, "
          f"{script_ms:.3f} ms by running the SQL script ({script_ms / create_ms:.1f}x)")
    peak_rss = max(hot["manager"].rss_mb, churn["manager"].rss_mb)
    budget = 100 + 0.3 * 256
    print(f"peak RSS during manager runs: {peak_rss:.0f} MB (target <= {budget:.0f} MB at 256 open)")
    figures: dict[str, object] = {
        "hot_ratio": round(hot["manager"].ops_per_s / hot["monolith"].ops_per_s, 3),
        "churn_ratio": round(churn["manager"].ops_per_s / churn["monolith"].ops_per_s, 3),
        "hot_ops_per_s": round(hot["manager"].ops_per_s), "hot_monolith_ops_per_s": round(hot["monolith"].ops_per_s),
        "churn_ops_per_s": round(churn["manager"].ops_per_s),
        "churn_monolith_ops_per_s": round(churn["monolith"].ops_per_s),
        "churn_miss_rate": round(churn["manager"].miss_rate, 4),
        "churn_miss_cost_ms": round(churn["manager"].miss_cost_ms, 3),
        "errors": sum(r.errors for r in (*hot.values(), *churn.values())),
        "open_existing_ms": round(open_ms, 3), "close_after_write_ms": round(close_ms, 3),
        **{key: round(value, 3) for key, value in parts.items()},
        "create_new_ms": round(create_ms, 3), "create_by_script_ms": round(script_ms, 3),
        "peak_rss_mb": round(peak_rss, 1), "peak_threads": max(hot["manager"].threads, churn["manager"].threads),
        "peak_fds": max(hot["manager"].fds, churn["manager"].fds), "churn_guilds": churn_guilds, "ops": n_ops,
        "read_overhead_ratio": round(read_ratio, 2), "write_overhead_ratio": round(write_ratio, 2),
        "loop_lag_p999_ms": round(lag_p999, 3), "idle_loop_lag_p999_ms": round(idle_lag, 3),
        "loop_cpu_lag_p999_ms": round(cpu_lag_p999, 3), "loop_cpu_lag_no_gc_p999_ms": round(cpu_lag_no_gc, 3),
        "worker_only_loop_cpu_lag_p999_ms": round(max(hot["manager, worker only"].cpu_lag_p999_ms,
                                                      churn["manager, worker only"].cpu_lag_p999_ms), 3),
        "worker_only_loop_lag_p999_ms": round(max(hot["manager, worker only"].lag_p999_ms,
                                                  churn["manager, worker only"].lag_p999_ms), 3),
        "hot_ratio_worker_only": round(hot["manager, worker only"].ops_per_s / hot["monolith"].ops_per_s, 3),
        "churn_ratio_worker_only": round(churn["manager, worker only"].ops_per_s / churn["monolith"].ops_per_s, 3),
        "churn_ratio_side_files_removed": round(churn["manager, side files removed"].ops_per_s
                                             / churn["monolith"].ops_per_s, 3),
        "per_call_us": {k: round(v, 1) for k, v in overhead.items()},
        "disk_ratio": round(footprint["disk_ratio"], 2), "empty_guild_bytes": int(footprint["empty_guild_bytes"]),
        "small_guild_bytes": int(footprint["small_guild_bytes"]),
        "footprint": {k: round(v, 3) if isinstance(v, float) else v for k, v in footprint.items()},
        "convert_page_size_ms_per_file": round(convert_ms, 3),
        "rss_mb_per_connection": round(cost["rss_mb_per_connection"], 3),
        **{k: round(v, 3) for k, v in modes.items()},
        "fds_per_connection": round(cost["fds_per_connection"], 2),
    }
    if postgres:
        figures.update(postgres_figures(hot, churn, postgres_calls, postgres.version))
    for label in ("manager lfu", "manager tinylfu", "manager 2 sql threads"):
        if label in churn:
            key = label.replace("manager ", "churn_ratio_").replace(" ", "_")
            figures[key] = round(churn[label].ops_per_s / churn["monolith"].ops_per_s, 3)
    for label in ("manager lfu", "manager tinylfu"):
        if label in churn:
            figures[label.replace("manager ", "churn_miss_rate_")] = round(churn[label].miss_rate, 4)
    figures.update(await rights_figures(work, quick=args.quick))
    return figures


def postgres_figures(hot: dict[str, RunResult], churn: dict[str, RunResult], calls: dict[str, float],
                     version: str) -> dict[str, object]:
    """The JSON keys of the PostgreSQL side (only with --postgres), and the manager and monolith against it."""
    figures: dict[str, object] = {"postgres_version": version, "postgres_pool_size": POOL_SIZE}
    for name, results in (("hot", hot), ("churn", churn)):
        postgres = results["postgres"].ops_per_s
        figures[f"postgres_{name}_ops_s"] = round(postgres)
        figures[f"{name}_manager_postgres_ratio"] = round(results["manager"].ops_per_s / postgres, 3)
        figures[f"{name}_monolith_postgres_ratio"] = round(results["monolith"].ops_per_s / postgres, 3)
    figures.update({f"{k}_us": round(v, 1) for k, v in calls.items()})
    return figures


async def rights_figures(work: Path, *, quick: bool) -> dict[str, object]:
    """Guild deletion and export figures from scripts/bench_rights.py (data rights)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import bench_rights
    except ModuleNotFoundError:
        return {}
    figures = await bench_rights.measure(work / "rights")
    print(f"\ndata rights: {json.dumps(figures)}")
    return dict(figures)


def convert_only(args: argparse.Namespace) -> dict[str, object]:
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-storage-"))
    figures = measure_db_migrate(work, args.convert, 21)

    def mib(key: str) -> str:
        return f"{int(str(figures[key])) / 2**20:.1f}"

    print(f"db migrate converting {figures['converted']} of {args.convert} guild files (21 rows each) from 4 KiB "
          f"to 1 KiB pages: {figures['convert_wall_s']} s ({figures['convert_ms_per_file']} ms a file, the "
          f"conversions alone {figures['convert_only_s']} s); "
          f"{mib('convert_bytes_before')} -> {mib('convert_bytes_after')} MiB "
          f"(allocated: {mib('convert_disk_bytes_before')} -> {mib('convert_disk_bytes_after')} MiB); "
          f"a second run converted "
          f"{figures['converted_second_run']}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one round (a smoke run)")
    parser.add_argument("--ops", type=int, default=0, help="operations per measured run")
    parser.add_argument("--workdir", help="keep the generated files here (default: a temporary folder)")
    parser.add_argument("--convert", type=int, metavar="N", default=0,
                        help="only this: `db migrate` converting N guild files with 4 KiB pages to 1 KiB "
                             "(10000: the issue's fleet); wall time, ms a file, bytes before and after")
    parser.add_argument("--postgres", metavar="DSN",
                        help="also run the mixes against PostgreSQL at this URL "
                             "(postgresql://USER:PASSWORD@HOST:PORT/DB, or without the password and "
                             "PGPASSWORD set; needs asyncpg); uses and drops its own schema, guildshelf_bench")
    args = parser.parse_args()
    try:
        figures = convert_only(args) if args.convert else asyncio.run(main_async(args))
    except PostgresUnavailable as e:
        print(f"bench_storage.py: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
