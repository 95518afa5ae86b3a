"""End-to-end load: Discord double → hikari → lightbulb → manager → SQLite → response.

The double and the load generator run in this process; the bot (the real BotApp
with the hidden `/bench touch`, see app/sandbox/bench_bot.py) runs in its own
process, as in production. Every interaction reads and writes a counter in its
guild's file; at the end the counters are summed from the files and must equal
the number of answered interactions.

    python scripts/bench_e2e.py [--guilds 1000] [--interactions 10000] [--concurrency 16] [--max-open 128]
    python scripts/bench_e2e.py --quick        (under a minute)

The message workload (`--workload messages`) sends MESSAGE_CREATE events instead: members of 2,500
guilds picked by Zipf's law (s = 1.0) post through the double's gateway; the bot counts XP (cooldown
in memory, batched writes). It reports messages absorbed per second, XP writes (gains committed) per
second, p99 lag from a message's creation to the commit of its XP, the bot's CPU, and lost XP: the XP
summed from the files at the end against XP_AMOUNT x the (guild, member) pairs that posted (the run is
shorter than the 60 s cooldown, so each pair earns exactly once).

    python scripts/bench_e2e.py --workload messages [--guilds 2500] [--messages 40000] [--members 50]

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
from app.features.invite_tracker import REFRESH_RATE_PER_S
from app.sandbox.bench_bot import COUNTER_KEY

FIRST_GUILD = 500_000_000_000_000_000
XP_AMOUNT = 15  # the default XP per message (app/features/guild_settings.py)
COOLDOWN_S = 60  # the default XP_COOLDOWN_SECONDS


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


async def _drive_messages(double: DiscordDouble, authors: list[tuple[int, int]], senders: int) -> float:
    """Post every (guild, member) message through the gateway with `senders` in flight; seconds taken."""
    next_index = 0

    async def sender() -> None:
        nonlocal next_index
        while next_index < len(authors):
            guild_id, user_id = authors[next_index]
            next_index += 1
            await double.say(guild_id, user_id, "hello")

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return time.perf_counter() - began


def _sum_xp(root: Path) -> int:
    total = 0
    for found in list_guild_files(root):
        conn = sqlite3.connect(f"{found.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            total += int(conn.execute("SELECT COALESCE(SUM(xp), 0) FROM user_xp").fetchone()[0])
        finally:
            conn.close()
    return total


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


async def _startup_rereads_done(double: DiscordDouble, guilds: list[int]) -> float:
    """Wait until the bot has re-read every guild's invite list, as it does once at start-up; the seconds waited.

    Those re-reads are paced (`REFRESH_RATE_PER_S`: 40 s for 1,000 guilds) and took a fifth of the bot's
    event loop in py-spy: a timed phase overlapping them measured start-up, not the steady state.
    """
    started, wanted = time.perf_counter(), len(guilds)
    deadline = started + wanted / REFRESH_RATE_PER_S + 120
    while len({key for key, _ in double.rate_limits.hits if key.startswith("GET ") and "/{guild}/invites " in key}) \
            < wanted:
        if time.perf_counter() > deadline:
            raise SystemExit("the bot did not re-read every guild's invites after start-up")
        await asyncio.sleep(0.25)
    return time.perf_counter() - started


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
            waited = await _startup_rereads_done(double, guilds)
            print(f"start-up invite re-reads of every guild done ({waited:.1f}s more)")
            weights = None if args.zipf is None else [1 / rank ** args.zipf for rank in range(1, len(guilds) + 1)]
            if args.workload == "messages":
                return await _run_messages(double, bot, root, guilds, weights or [1.0] * len(guilds), rng, args)
            cpu_before, own_before = _cpu_seconds(bot.pid), os.times()
            # `both`: ping and touch alternated `--rounds` times in the same bot, the best phase of each kept
            phases = ["ping", "touch"] * args.rounds if args.command == "both" else [args.command]
            best: dict[str, tuple[list[float], int, float]] = {}
            rates: dict[str, list[float]] = {"ping": [], "touch": []}
            touched = errors = 0
            for phase in phases:
                lat, err, sec = await _drive(double, guilds, args.interactions, args.concurrency, rng=rng,
                                             command=f"bench {phase}", weights=weights)
                rates[phase].append(len(lat) / sec)
                print(f"  {phase}: {len(lat) / sec:.1f}/s, p99 {_percentile(lat, 0.99):.1f} ms, {err} errors")
                touched, errors = touched + (len(lat) if phase == "touch" else 0), errors + err
                if phase not in best or len(lat) / sec > len(best[phase][0]) / best[phase][2]:
                    best[phase] = (lat, err, sec)
            latencies, _, seconds = best["touch" if args.command == "both" else args.command]
            peak_rss_kb, fds = _proc_status(bot.pid, "VmHWM"), _open_fds(bot.pid)
            cpu_after, own_after = _cpu_seconds(bot.pid), os.times()
            bot.terminate()
            out = (await asyncio.wait_for(bot.communicate(), 60))[0].decode()
        reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        manager: dict[str, object] = next((r["manager"] for r in reports if "manager" in r), {})
        counted = _sum_counters(root)
    answered = touched + len(guilds) - warm_errors
    compared: dict[str, object] = {}
    if args.command == "both":
        ping_lat, _, ping_s = best["ping"]
        # each round's touch against the ping just before it: the spread the machine's noise gives
        ratios = [round(t / p, 3) for p, t in zip(rates["ping"], rates["touch"], strict=True)]
        compared = {"ping_interactions_per_s": round(len(ping_lat) / ping_s, 1),
                    "ping_p99_ms": round(_percentile(ping_lat, 0.99), 2),
                    "touch_ping_ratio": round(len(latencies) / seconds / (len(ping_lat) / ping_s), 3),
                    "touch_ping_ratios": ratios, "touch_ping_ratio_median": round(statistics.median(ratios), 3)}
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
        "bot_exit_code": bot.returncode, "manager": manager, "command": args.command, **compared,
    }


async def _caught_up(double: DiscordDouble, guild_id: int, *, within_s: float = 300.0) -> None:
    """Until a /bench ping is answered: the gateway keeps order, so the bot has then received every message.

    A ping stuck behind a backlog of messages outlives Discord's 3 s deadline and is never answered: send another.
    """
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        record = await double.invoke(guild_id, 700_000_000_000_000_000, "bench ping")
        try:
            await double.wait_reply(record, timeout=10)
        except TimeoutError:
            continue
        await asyncio.sleep(1.0)  # the listeners of the last messages run
        return
    raise SystemExit(f"the bot did not catch up within {within_s:.0f} s")


async def _run_messages(double: DiscordDouble, bot: asyncio.subprocess.Process, root: Path, guilds: list[int],
                        weights: list[float], rng: random.Random, args: argparse.Namespace) -> dict[str, object]:
    """Messages through the gateway; figures from the bot's own report and XP counted from the files."""
    chosen = rng.choices(guilds, weights=weights, k=args.messages)
    authors = [(g, 700_000_000_000_000_000 + rng.randrange(args.members)) for g in chosen]
    cpu_before = _cpu_seconds(bot.pid)
    try:
        send_s = await _drive_messages(double, authors, args.concurrency)
        await _caught_up(double, guilds[0])
        cpu_after, peak_rss_kb = _cpu_seconds(bot.pid), _proc_status(bot.pid, "VmHWM")
    finally:
        bot.terminate()
        out = (await asyncio.wait_for(bot.communicate(), 120))[0].decode()
    xp: dict[str, float] = next((json.loads(line)["xp"] for line in out.splitlines()
                                 if line.startswith('{"xp"')), {})
    expected = XP_AMOUNT * len(set(authors))
    counted = _sum_xp(root)
    seen_s, commit_s = xp.get("seen_seconds") or send_s, xp.get("commit_seconds") or send_s
    return {
        "workload": "messages", "guilds": len(guilds), "messages": args.messages, "members_per_guild": args.members,
        "distribution": f"zipf s={args.zipf}", "senders": args.concurrency, "send_seconds": round(send_s, 2),
        "messages_sent_per_s": round(args.messages / send_s, 1),
        "messages_absorbed_per_s": round(xp.get("messages_seen", 0) / max(seen_s, 1e-9), 1),
        "messages_seen": xp.get("messages_seen", 0), "xp_gains_committed": xp.get("gains_committed", 0),
        "xp_writes_per_s": round(xp.get("gains_committed", 0) / max(commit_s, 1e-9), 1),
        "xp_transactions": xp.get("transactions", 0), "lag_p50_ms": xp.get("lag_p50_ms"),
        "lag_p99_ms": xp.get("lag_p99_ms"), "lag_max_ms": xp.get("lag_max_ms"),
        "bot_cpu_s": round(sum(cpu_after) - sum(cpu_before), 2),
        "bot_cpu_percent": round(100 * (sum(cpu_after) - sum(cpu_before)) / (send_s + 1.0), 1),
        "peak_rss_mb": round(peak_rss_kb / 1024, 1), "xp_expected": expected, "xp_counted": counted,
        "xp_lost": expected - counted, "errors": 0 if send_s < COOLDOWN_S else "run longer than the cooldown",
        "bot_exit_code": bot.returncode,
    }


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description="End-to-end interaction benchmark through the Discord double.")
    parser.add_argument("--guilds", type=int, default=1000, help="guilds the bot is in (default 1000)")
    parser.add_argument("--interactions", type=int, default=10_000, help="timed interactions (default 10000)")
    parser.add_argument("--concurrency", type=int, default=16, help="interactions in flight (default 16)")
    parser.add_argument("--max-open", type=int, default=128, help="MAX_OPEN_GUILD_DBS of the bot (default 128)")
    parser.add_argument("--command", choices=("touch", "ping", "both"), default="touch",
                        help="touch: a read and a write per interaction (default); ping: no database (the floor); "
                             "both: ping and touch alternated --rounds times in one bot, touch/ping printed")
    parser.add_argument("--rounds", type=_positive, default=2,
                        help="with --command both: ping-then-touch rounds (default 2); touch/ping is printed "
                             "best against best and round by round, with the median")
    parser.add_argument("--lifecycle-threads", type=int, help="bot threads opening/closing files (default: bot's)")
    parser.add_argument("--query-threads", type=int, help="bot threads running statements (default: bot's)")
    parser.add_argument("--zipf", type=float, metavar="S",
                        help="pick guilds by Zipf's law with exponent S (a few busy servers, many quiet "
                             "ones) instead of uniformly (default: uniform, the worst case for the cache)")
    parser.add_argument("--seed", type=int, default=4, help="random seed for the guild choice")
    parser.add_argument("--workload", choices=("interactions", "messages"), default="interactions",
                        help="interactions: slash commands (default); messages: MESSAGE_CREATE events earning XP "
                             "(defaults then: 2,500 guilds, Zipf s=1.0)")
    parser.add_argument("--messages", type=int, default=40_000, help="messages sent (message workload)")
    parser.add_argument("--members", type=int, default=50, help="members posting per guild (message workload)")
    parser.add_argument("--quick", action="store_true", help="300 guilds, 3000 interactions: under a minute")
    args = parser.parse_args()
    if args.workload == "messages":
        args.guilds = args.guilds if "--guilds" in sys.argv else 2500
        args.zipf = 1.0 if args.zipf is None else args.zipf
    if args.quick:
        args.guilds, args.interactions = min(args.guilds, 300), min(args.interactions, 3000)
    result = asyncio.run(run(args))
    if args.workload == "messages":
        print(f"messages: {result['messages_absorbed_per_s']}/s absorbed ({result['messages_sent_per_s']}/s sent), "
              f"XP writes {result['xp_writes_per_s']}/s, lag p99 {result['lag_p99_ms']} ms, bot CPU "
              f"{result['bot_cpu_percent']}%, XP lost {result['xp_lost']} ({result['xp_counted']} counted of "
              f"{result['xp_expected']})")
        print(json.dumps(result))
        return 0 if result["xp_lost"] == 0 and result["errors"] == 0 else 1
    print(f"throughput {result['interactions_per_s']}/s over {result['seconds']}s; p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms; errors {result['errors']}; bot peak RSS {result['peak_rss_mb']} MB, "
          f"{result['open_fds']} open fds; writes in files {result['writes_counted']} "
          f"(expected {result['writes_expected']})")
    if args.command == "both":
        print(f"ping {result['ping_interactions_per_s']}/s (p99 {result['ping_p99_ms']} ms): "
              f"touch/ping {result['touch_ping_ratio']} (best of each); round by round {result['touch_ping_ratios']}, "
              f"median {result['touch_ping_ratio_median']}")
    print(json.dumps(result))
    ok = result["errors"] == 0 and result["writes_counted"] == result["writes_expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
