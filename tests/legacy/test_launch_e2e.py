"""`python -m app run` end to end: the legacy split, then the real bot on the Discord double."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.doubles import DiscordDouble
from tests.legacy.helpers import HOME, REPO, rows

ADMIN = 900_000_000_000_000_001
# `python -m app run` as is, but with the bot pointed at the double (the only change: rest_url)
LAUNCHER = """
import sys
import app.bot.app as bot_app
from app.cli import main

real = bot_app.create_bot
bot_app.create_bot = lambda settings, **kw: real(settings, rest_url=sys.argv[1], **kw)
sys.exit(main(["run"]))
"""


async def _wait_for(check: Callable[[], bool], proc: asyncio.subprocess.Process, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert proc.returncode is None, "the bot process exited early"
        assert loop.time() < deadline, "the bot did not come up in time"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_python_m_app_run_splits_the_legacy_db_then_serves_its_data(legacy: Path, tmp_path: Path) -> None:
    users = rows(legacy, "SELECT count(*) FROM users")[0][0]
    async with DiscordDouble() as double:
        double.ensure_guild(HOME).bot_present = True
        env = {**os.environ, "DISCORD_TOKEN": double.token, "LEGACY_DB": str(legacy),
               "GUILD_DBS_DIR": str(tmp_path / "guild_dbs"), "LOG_LEVEL": "WARNING",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", LAUNCHER, double.rest_url, cwd=tmp_path,
                                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # commands synced (lightbulb starts before the shards) and the shard connected: an interaction
            # reaches a bot only through a gateway session
            await _wait_for(lambda: double.command_syncs > 0 and bool(double.gateway.sessions), proc, timeout=60)
            record = await double.invoke(HOME, ADMIN, "server info", None, admin=True)
            reply = await double.wait_reply(record, timeout=20)
        finally:
            proc.send_signal(signal.SIGINT)  # the bot's own clean shutdown
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert f"users: {users}" in next(v for k, v in fields.items() if k.startswith("Rows"))
    assert not legacy.exists()
    assert len(list(legacy.parent.glob("database.db.split-*"))) == 1
    assert (tmp_path / "guild_dbs" / "legacy-split-manifest.json").is_file()
