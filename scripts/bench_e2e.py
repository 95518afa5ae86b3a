"""End-to-end load: Discord double → hikari → lightbulb → manager → SQLite → response.

The double and the load generator run in this process; the bot (the real BotApp
with the hidden `/bench touch`, see app/sandbox/bench_bot.py) runs in its own
process, as in production. Every interaction reads and writes a counter in its
guild's file; at the end the counters are summed from the files and must equal
the number of answered interactions.

    python scripts/bench_e2e.py [--guilds 1000] [--interactions 10000] [--concurrency 16] [--max-open 128]
    python scripts/bench_e2e.py --quick        (under a minute)

The last line is JSON: interactions_per_s, p50_ms, p99_ms, errors, peak_rss_mb, open_fds, ...
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.fleet import list_guild_files
from app.doubles import DiscordDouble
from app.sandbox.bench_bot import COUNTER_KEY

FIRST_GUILD = 500_000_000_000_000_000


def _proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _drive(double: DiscordDouble, guilds: list[int], count: int, concurrency: int, *,
                 rng: random.Random, sequential: bool = False, command: str = "bench touch",
                 weights: list[float] | None = None) -> tuple[list[float], int, float]:
    """Send `count` /bench touch at `concurrency`; latencies (ms) of answered ones, errors, seconds."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    order = guilds if sequential else rng.choices(guilds, weights=weights, k=count)

    async def worker() -> None:
        nonlocal errors, next_index
        while next_index < count:
            index = next_index
            next_index += 1
            guild_id = order[index]
            started = time.perf_counter()
            try:
                record = await double.invoke(guild_id, 700_000_000_000_000_000 + index % 5000, command)
                reply = await double.wait_reply(record, timeout=30)
                if not reply.content.startswith("touch ") or not reply.ephemeral:
                    raise RuntimeError(f"unexpected reply {reply.content!r}")
                latencies.append((time.perf_counter() - started) * 1000)
                double.forget(record)
            except Exception as error:  # counted and reported, the run goes on
                errors += 1
                if errors <= 5:
                    print(f"error: {type(error).__name__}: {error}", file=sys.stderr)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def _sum_counters(root: Path) -> int:
    total = 0
    for found in list_guild_files(root):
        conn = sqlite3.connect(f"{found.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM guild_settings WHERE key = ?", (COUNTER_KEY,)).fetchone()
        finally:
            conn.close()
        total += int(json.loads(row[0])) if row else 0
    return total


async def _start_bot(double: DiscordDouble, root: Path, args: argparse.Namespace) -> asyncio.subprocess.Process:
    extra = [flag for name, value in (("--lifecycle-threads", args.lifecycle_threads),
                                      ("--query-threads", args.query_threads)) if value
             for flag in (name, str(value))]
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.sandbox.bench_bot", "--rest-url", double.rest_url, "--token", double.token,
        "--dbs", str(root), "--max-open", str(args.max_open), *extra,
        cwd=Path(__file__).resolve().parents[1], stdout=asyncio.subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (double.command_syncs and double.gateway.sessions):
        if bot.returncode is not None or time.monotonic() > deadline:
            raise SystemExit("the bot process did not start")
        await asyncio.sleep(0.05)
    return bot


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] if len(values) > 1 \
        else values[0]


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    guilds = [FIRST_GUILD + i for i in range(args.guilds)]
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as scratch:
        root = Path(scratch) / "guild_dbs"
        async with DiscordDouble() as double:
            for guild_id in guilds:
                double.ensure_guild(guild_id).bot_present = True
            started = time.perf_counter()
            bot = await _start_bot(double, root, args)
            print(f"bot started with {args.guilds} guilds in {time.perf_counter() - started:.1f}s (pid {bot.pid})")
            _, warm_errors, warm_s = await _drive(double, guilds, len(guilds), args.concurrency, rng=rng,
                                                  sequential=True)
            print(f"warm-up: {len(guilds)} first touches (file creation) in {warm_s:.1f}s, {warm_errors} errors")
            weights = None if args.zipf is None else [1 / rank ** args.zipf for rank in range(1, len(guilds) + 1)]
            cpu_before, own_before = _cpu_seconds(bot.pid), os.times()
            latencies, errors, seconds = await _drive(double, guilds, args.interactions, args.concurrency, rng=rng,
                                                      command=f"bench {args.command}", weights=weights)
            peak_rss_kb, fds = _proc_status(bot.pid, "VmHWM"), _open_fds(bot.pid)
            cpu_after, own_after = _cpu_seconds(bot.pid), os.times()
            bot.terminate()
            out = (await asyncio.wait_for(bot.communicate(), 60))[0].decode()
        reports = [json.loads(line)["manager"] for line in out.splitlines() if line.startswith("{")]
        manager: dict[str, object] = reports[0] if reports else {}
        counted = _sum_counters(root)
    answered = (len(latencies) if args.command == "touch" else 0) + len(guilds) - warm_errors
    return {
        "guilds": args.guilds, "interactions": args.interactions, "concurrency": args.concurrency,
        "max_open": args.max_open, "distribution": "uniform" if args.zipf is None else f"zipf s={args.zipf}",
        "interactions_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 2), "p99_ms": round(_percentile(latencies, 0.99), 2),
        "errors": errors + warm_errors, "peak_rss_mb": round(peak_rss_kb / 1024, 1), "open_fds": fds,
        "seconds": round(seconds, 2), "writes_counted": counted, "writes_expected": answered,
        "bot_cpu_user_s": round(cpu_after[0] - cpu_before[0], 2),
        "bot_cpu_sys_s": round(cpu_after[1] - cpu_before[1], 2),
        "double_cpu_s": round(own_after.user + own_after.system - own_before.user - own_before.system, 2),
        "bot_exit_code": bot.returncode, "manager": manager,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="End-to-end interaction benchmark through the Discord double.")
    parser.add_argument("--guilds", type=int, default=1000, help="guilds the bot is in (default 1000)")
    parser.add_argument("--interactions", type=int, default=10_000, help="timed interactions (default 10000)")
    parser.add_argument("--concurrency", type=int, default=16, help="interactions in flight (default 16)")
    parser.add_argument("--max-open", type=int, default=128, help="MAX_OPEN_GUILD_DBS of the bot (default 128)")
    parser.add_argument("--command", choices=("touch", "ping"), default="touch",
                        help="touch: a read and a write per interaction (default); ping: no database (the floor)")
    parser.add_argument("--lifecycle-threads", type=int, help="bot threads opening/closing files (default: bot's)")
    parser.add_argument("--query-threads", type=int, help="bot threads running statements (default: bot's)")
    parser.add_argument("--zipf", type=float, metavar="S",
                        help="pick guilds by Zipf's law with exponent S (a few busy servers, many quiet "
                             "ones) instead of uniformly (default: uniform, the worst case for the cache)")
    parser.add_argument("--seed", type=int, default=4, help="random seed for the guild choice")
    parser.add_argument("--quick", action="store_true", help="300 guilds, 3000 interactions: under a minute")
    args = parser.parse_args()
    if args.quick:
        args.guilds, args.interactions = min(args.guilds, 300), min(args.interactions, 3000)
    result = asyncio.run(run(args))
    print(f"throughput {result['interactions_per_s']}/s over {result['seconds']}s; p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms; errors {result['errors']}; bot peak RSS {result['peak_rss_mb']} MB, "
          f"{result['open_fds']} open fds; writes in files {result['writes_counted']} "
          f"(expected {result['writes_expected']})")
    print(json.dumps(result))
    ok = result["errors"] == 0 and result["writes_counted"] == result["writes_expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
