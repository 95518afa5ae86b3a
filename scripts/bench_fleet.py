"""Two shard blocks in two processes against one Discord double, and the same traffic on one process.

The bot has SHARD_COUNT=N (--shards, default 4: Discord allows 2,500 guilds a shard); process A serves
shards 0..N/2-1 (SHARD_IDS `0-1` for 4), process B the rest (the real bot with the hidden
`/bench touch` of app/sandbox/bench_bot.py: a read and a write in the guild's file per command). Guild ids
cycle through the N shards. Phase 1 starts both processes, creates every guild's file (one touch each), then sends
Zipf(1.0) traffic; phase 2 stops them and sends the same sequence to one process serving all N shards, on
the same (now existing) files. Reported: throughput and p99 per process and together, RSS and open
descriptors per process, the one-process figures, and the counters summed from the files (every answered
touch must be in them). The last line is JSON.

    python scripts/bench_fleet.py [--guilds 10000] [--interactions 20000] [--shards 4] [--concurrency 16]
                                  [--max-open 128]
    python scripts/bench_fleet.py --quick        (500 guilds, 3,000 commands)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_e2e import _drive, _open_fds, _percentile, _proc_status, _sum_counters

from app.doubles import DiscordDouble

ROOT = Path(__file__).resolve().parents[1]
COUNT = 4  # set from --shards in main()


def fleet_guilds(n: int) -> list[int]:
    """`n` guild ids cycling through the COUNT shards (the shard is `(id >> 22) % COUNT`; 1 << 36 is 0 mod it)."""
    return [(((1 << 36) + k) << 22) | 7 for k in range(n)]


def shard_of(guild_id: int) -> int:
    return (guild_id >> 22) % COUNT


def blocks() -> tuple[str, str]:
    """SHARD_IDS of process A (the first half of the shards) and of process B (the rest)."""
    half = COUNT // 2
    return (f"0-{half - 1}" if half > 1 else "0",
            f"{half}-{COUNT - 1}" if COUNT - half > 1 else str(half))


def block_size(shard_ids: str | None) -> int:
    if shard_ids is None:
        return COUNT
    first, _, last = shard_ids.partition("-")
    return int(last or first) - int(first) + 1


STARTED: list[asyncio.subprocess.Process] = []  # stopped at the end even if the run fails


async def start_bot(double: DiscordDouble, root: Path, max_open: int,
                    shard_ids: str | None) -> asyncio.subprocess.Process:
    block = ["--shard-ids", shard_ids, "--shard-count", str(COUNT)] if shard_ids is not None else []
    before = len(double.gateway.sessions)
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.sandbox.bench_bot", "--rest-url", double.rest_url, "--token", double.token,
        "--dbs", str(root), "--max-open", str(max_open), *block, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    STARTED.append(bot)
    # hikari connects max_concurrency shards per 5-s window (the double's is 1): wait for all of the block's
    shards = block_size(shard_ids)
    deadline = time.monotonic() + 300 + 5 * shards
    while not (double.command_syncs and len(double.gateway.sessions) >= before + shards):
        if bot.returncode is not None or time.monotonic() > deadline:
            raise SystemExit(f"the bot process for shards {shard_ids or 'all'} did not start")
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # its READY is handled before the first command
    return bot


async def stop(bot: asyncio.subprocess.Process) -> float:
    """SIGTERM, then SIGKILL after 30 s (every touch was committed in its own transaction before its reply).

    Returns the seconds the process took to exit (its shutdown checkpoints every file it wrote).
    """
    began = time.perf_counter()
    bot.terminate()
    try:
        await asyncio.wait_for(bot.communicate(), 30)
    except TimeoutError:
        print(f"bot process {bot.pid} did not stop within 30 s: killed", file=sys.stderr)
        bot.kill()
        await bot.wait()
    return round(time.perf_counter() - began, 1)


def figures(latencies: list[float], seconds: float) -> dict[str, float]:
    return {"answered": len(latencies), "interactions_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(_percentile(latencies, 0.50), 2), "p99_ms": round(_percentile(latencies, 0.99), 2)}


def process_figures(pid: int) -> dict[str, object]:
    return {"peak_rss_mb": round(_proc_status(pid, "VmHWM") / 1024, 1),
            "rss_mb": round(_proc_status(pid, "VmRSS") / 1024, 1), "open_fds": _open_fds(pid),
            "fds_by_kind": fds_by_kind(pid)}


def fds_by_kind(pid: int) -> dict[str, int]:
    """The process's descriptors: guild and bot-wide files (main, -wal, -shm), sockets, the rest."""
    kinds: dict[str, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        kind = ("sqlite" if ".sqlite3" in target else "socket" if target.startswith("socket:") else "other")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


async def timed(double: DiscordDouble, order: list[int],
                concurrency: int) -> tuple[list[tuple[int, float]], int, float]:
    """Send the touches of `order` in that order; (guild, latency ms) of answered ones, errors, seconds."""
    latencies: list[tuple[int, float]] = []
    errors = 0
    # one _drive per command keeps bench_e2e's reply checks; the guild of each latency is known here
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < len(order):
            guild_id = order[next_index]
            next_index += 1
            got, failed, _ = await _drive(double, [guild_id], 1, 1, rng=random.Random(0), sequential=True)
            errors += failed
            latencies.extend((guild_id, ms) for ms in got)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def place(double: DiscordDouble, guilds: list[int]) -> None:
    double.recommended_shards = COUNT
    for guild_id in guilds:
        double.place_bot(guild_id)


async def run(args: argparse.Namespace) -> dict[str, object]:
    try:
        return await measure(args)
    finally:
        for bot in STARTED:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()


async def measure(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    guilds = fleet_guilds(args.guilds)
    weights = [1 / rank ** 1.0 for rank in range(1, len(guilds) + 1)]
    ranked = guilds[:]
    rng.shuffle(ranked)  # Zipf ranks independent of the shard
    order = rng.choices(ranked, weights=weights, k=args.interactions)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as scratch:
        root = Path(scratch) / "guild_dbs"
        async with DiscordDouble() as double:
            place(double, guilds)
            began = time.perf_counter()
            block_a, block_b = blocks()
            a = await start_bot(double, root, args.max_open, block_a)
            b = await start_bot(double, root, args.max_open, block_b)
            print(f"two processes started with {len(guilds)} guilds in {time.perf_counter() - began:.1f}s")
            _, warm_errors, warm_s = await _drive(double, guilds, len(guilds), args.concurrency,
                                                  rng=rng, sequential=True)
            print(f"warm-up: {len(guilds)} files created in {warm_s:.1f}s, {warm_errors} errors")
            fleet, fleet_errors, fleet_s = await timed(double, order, args.concurrency)
            procs = {f"shards {block_a}": process_figures(a.pid), f"shards {block_b}": process_figures(b.pid)}
            load = os.getloadavg()
            exits = await asyncio.gather(stop(a), stop(b))
        async with DiscordDouble() as double:
            place(double, guilds)
            began = time.perf_counter()
            one = await start_bot(double, root, args.max_open, None)
            print(f"one process started with {len(guilds)} guilds (files existing) in "
                  f"{time.perf_counter() - began:.1f}s")
            single, single_errors, single_s = await timed(double, order, args.concurrency)
            single_proc = process_figures(one.pid)
            load_single = os.getloadavg()
            single_proc["exit_s"] = await stop(one)
        counted = _sum_counters(root)
    half = COUNT // 2
    per_process = {name: {**figures([ms for g, ms in fleet if (shard_of(g) >= half) == bool(k)], fleet_s),
                          **procs[name],
                          "exit_s": exits[k]} for k, name in enumerate(procs)}
    expected = len(guilds) - warm_errors + len(fleet) + len(single)
    return {
        "guilds": len(guilds), "interactions": args.interactions, "concurrency": args.concurrency,
        "max_open": args.max_open, "distribution": "zipf s=1.0", "shard_count": COUNT,
        "shard_blocks": [block_a, block_b],
        "warmup_s": round(warm_s, 1),
        "two_processes": {**figures([ms for _, ms in fleet], fleet_s), "seconds": round(fleet_s, 2),
                          "errors": fleet_errors, "per_process": per_process},
        "one_process": {**figures([ms for _, ms in single], single_s), "seconds": round(single_s, 2),
                        "errors": single_errors, **single_proc},
        "errors": warm_errors + fleet_errors + single_errors,
        "writes_counted": counted, "writes_expected": expected,
        "load_average": {"two_processes": [round(x, 2) for x in load],
                         "one_process": [round(x, 2) for x in load_single]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Two shard-block processes against one process, one double.")
    parser.add_argument("--guilds", type=int, default=10_000, help="guilds with files (default 10000)")
    parser.add_argument("--interactions", type=int, default=20_000, help="timed commands per phase (default 20000)")
    parser.add_argument("--shards", type=int, default=4,
                        help="SHARD_COUNT, even, >= 2: process A serves the first half (default 4)")
    parser.add_argument("--concurrency", type=int, default=16, help="commands in flight (default 16)")
    parser.add_argument("--max-open", type=int, default=128, help="MAX_OPEN_GUILD_DBS per process (default 128)")
    parser.add_argument("--seed", type=int, default=15, help="random seed")
    parser.add_argument("--quick", action="store_true", help="500 guilds, 3,000 commands: a smoke run")
    args = parser.parse_args()
    if args.shards < 2 or args.shards % 2:
        parser.error("--shards must be even and at least 2")
    global COUNT
    COUNT = args.shards
    if args.quick:
        args.guilds, args.interactions = min(args.guilds, 500), min(args.interactions, 3000)
    result = asyncio.run(run(args))
    two, one = result["two_processes"], result["one_process"]
    assert isinstance(two, dict) and isinstance(one, dict)
    for name, proc in two["per_process"].items():
        print(f"{name}: {proc['interactions_per_s']}/s, p99 {proc['p99_ms']} ms, peak RSS {proc['peak_rss_mb']} MB, "
              f"{proc['open_fds']} fds {proc['fds_by_kind']}, exit {proc['exit_s']} s")
    print(f"two processes: {two['interactions_per_s']}/s, p99 {two['p99_ms']} ms; one process: "
          f"{one['interactions_per_s']}/s, p99 {one['p99_ms']} ms, peak RSS {one['peak_rss_mb']} MB, "
          f"{one['open_fds']} fds, exit {one['exit_s']} s; errors {result['errors']}; "
          f"writes {result['writes_counted']} (expected {result['writes_expected']})")
    print(json.dumps(result))
    return 0 if result["errors"] == 0 and result["writes_counted"] == result["writes_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
