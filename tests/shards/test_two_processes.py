"""Two bot processes, two shard blocks, one Discord double: each guild is served by its own process."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.doubles.discord import DiscordDouble
from app.doubles.discord_gateway import GatewaySession
from tests.e2e import ADMIN

ROOT = Path(__file__).resolve().parents[2]
COUNT = 2
# (id >> 22) % 2: even k on shard 0, odd k on shard 1
GUILDS = [(((1 << 36) + k) << 22) | 7 for k in range(6)]


def shard(guild_id: int) -> int:
    return (guild_id >> 22) % COUNT


def open_guild_files(pid: int, folder: Path) -> set[str]:
    """Names of the guild files the process has open now (from /proc)."""
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
        if target.parent == folder.resolve() and target.name.endswith(".sqlite3") and target.name[0].isdigit():
            names.add(target.name)
    return names


@asynccontextmanager
async def bot_process(double: DiscordDouble, folder: Path, shard_ids: str) -> AsyncIterator[int]:
    env = {**os.environ, "GUILD_DBS_DIR": str(folder), "SHARD_IDS": shard_ids, "SHARD_COUNT": str(COUNT),
           "DOUBLE_TOKEN": double.token, "DOUBLE_REST_URL": double.rest_url, "LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.shards.bot_process", cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.strip() == b"ready", f"bot process for shards {shard_ids} did not start"
        yield proc.pid
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def sessions_by_shard(double: DiscordDouble) -> dict[tuple[int, int], GatewaySession]:
    return {s.shard: s for s in double.gateway.sessions}


@pytest.mark.asyncio
async def test_two_processes_each_serve_exactly_their_shards_guilds(tmp_path: Path) -> None:
    folder = tmp_path / "guild_dbs"  # one shared folder (the one-machine layout)
    async with DiscordDouble() as double:
        for guild_id in GUILDS:
            double.place_bot(guild_id)
        async with bot_process(double, folder, "0") as pid0, bot_process(double, folder, "1") as pid1:
            assert set(sessions_by_shard(double)) == {(0, COUNT), (1, COUNT)}
            assert double.command_syncs == 1  # only the block with shard 0 syncs the commands
            for guild_id in GUILDS:
                written = await double.invoke(guild_id, ADMIN + 1, "settings", {"xp_amount": "20"}, admin=True)
                # a guild only read has no file to hold open (another admin: each has a command budget)
                assert (await double.wait_reply(written, timeout=20)).ephemeral
                record = await double.invoke(guild_id, ADMIN, "server info", admin=True)
                reply = await double.wait_reply(record, timeout=20)
                assert reply.embeds, reply.content
            open0, open1 = open_guild_files(pid0, folder), open_guild_files(pid1, folder)
            ready = {s.shard[0]: {int(g["id"]) for g in s.sent[0]["d"]["guilds"]}
                     for s in double.gateway.sessions}

    names = {g: f"{g}.sqlite3" for g in GUILDS}
    assert open0 == {names[g] for g in GUILDS if shard(g) == 0}
    assert open1 == {names[g] for g in GUILDS if shard(g) == 1}
    assert not open0 & open1
    assert ready == {k: {g for g in GUILDS if shard(g) == k} for k in range(COUNT)}
    assert {p.name for p in folder.glob("*.sqlite3") if p.name[0].isdigit()} == set(names.values())
    # the shared bot-wide file: both processes recorded their guilds in it, and it is intact
    conn = sqlite3.connect(folder / "bot-wide.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        joined = {r[0] for r in conn.execute("SELECT guild_id FROM guild_registry WHERE joined_at IS NOT NULL")}
    finally:
        conn.close()
    assert joined == set(GUILDS)
