"""/metrics and /healthz served by the running bot (METRICS_PORT), scraped after a scripted sandbox run."""
from __future__ import annotations

import dataclasses
import json
import re
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.bot.app import create_bot
from app.config import Settings
from app.doubles.discord_payloads import make_token
from app.errors import ConfigurationError
from app.sandbox.harness import BotHarness, running_bot
from app.sandbox.runner import ScriptRunner

SCRIPT = [
    "555 bot join",
    "555 7 admin /server info",
    "555 7 admin /server info",
    "555 8 /server info",         # refused: not an admin (a user error)
    "555 9 say hello",
    "555 7 admin /settings xp_amount:20",  # a write: the guild's file is built (a guild only read has none)
    "556 bot join",
    "556 7 admin /server info",
    "556 7 admin /settings xp_amount:20",
    "556 bot leave",
]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def _get(harness: BotHarness, path: str) -> tuple[int, str]:
    server = harness.bot.ops.server
    assert server is not None
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}{path}") as response:
        return response.status, await response.text()


async def _scrape(harness: BotHarness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = await _get(harness, "/metrics")
    assert status == 200
    return _samples(text)


@pytest.mark.asyncio
async def test_a_scripted_sandbox_run_moves_the_counters(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), metrics_port=0, guild_file_creation="first-write")
    async with running_bot(tmp_path / "guild_dbs", settings=settings) as harness:
        before = await _scrape(harness)
        out: list[str] = []
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        for number, line in enumerate(SCRIPT, start=1):
            await runner.run_line(line, number)
        after = await _scrape(harness)

    assert runner.errors == 0, out
    command = ("command", "server info")
    assert before.get(("guildshelf_commands_total", (command, ("outcome", "ok")))) is None
    assert after[("guildshelf_commands_total", (command, ("outcome", "ok")))] == 3
    assert after[("guildshelf_commands_total", (command, ("outcome", "user_error")))] == 1
    assert after[("guildshelf_command_seconds_count", (command,))] == 4
    assert after[("guildshelf_db_misses_total", ())] > before[("guildshelf_db_misses_total", ())]
    assert after[("guildshelf_db_creates_total", ())] == 2
    assert after[("guildshelf_db_virtual_opens_total", ())] == 2  # /server info before each guild's first write
    assert after[("guildshelf_db_hits_total", ())] >= 1
    assert after[("guildshelf_gateway_events_total", (("type", "MESSAGE_CREATE"),))] == 1
    assert after[("guildshelf_gateway_events_total", (("type", "GUILD_CREATE"),))] == 2
    assert after[("guildshelf_gateway_events_total", (("type", "GUILD_DELETE"),))] == 1
    assert after[("guildshelf_gateway_events_total", (("type", "INTERACTION_CREATE"),))] == 6
    assert after[("guildshelf_guild_files", ())] == 2
    assert after[("guildshelf_disk_bytes", ())] > 0
    assert after[("guildshelf_guild_file_bytes", (("guild_id", "555"),))] > 0
    assert after[("guildshelf_guild_quota_bytes", ())] == 100 * 1024 * 1024
    assert after[("guildshelf_guilds_served", ())] == 1  # 556 was left
    assert after[("guildshelf_db_max_open", ())] == Settings().max_open_guild_dbs


@pytest.mark.asyncio
async def test_healthz_is_200_while_connected_and_503_once_the_bot_wide_file_cannot_answer(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), metrics_port=0)
    async with running_bot(tmp_path / "guild_dbs", settings=settings) as harness:
        healthy = await _get(harness, "/healthz")
        await harness.bot.manager.close_all()  # the bot-wide file no longer answers
        unhealthy = await _get(harness, "/healthz")

    assert healthy == (200, "ok\n")
    assert unhealthy == (503, "the bot-wide file did not answer\n")


@pytest.mark.asyncio
async def test_health_says_the_gateway_is_not_connected_before_the_bot_connects(tmp_path: Path) -> None:
    app = create_bot(dataclasses.replace(Settings(), guild_dbs_dir=tmp_path), token=make_token(123))
    try:
        assert await app.ops.health_problem() == "the gateway is not connected"
    finally:
        await app.stop()


@pytest.mark.asyncio
async def test_without_metrics_port_nothing_listens(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs") as harness:
        assert harness.bot.ops.server is None


def test_sandbox_accepts_metrics_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    script = tmp_path / "s.txt"
    script.write_text("555 bot join\n555 7 admin /server info\n")
    assert main(["sandbox", "--script", str(script), "--json", "--metrics-port", "0"]) == 0
    replies = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(r.get("embeds") for r in replies)


def test_sandbox_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    assert main(["sandbox", "--metrics-port", "70000"]) == 1
    assert re.fullmatch(r"--metrics-port must be between 0 and 65535, not 70000\.\n", capsys.readouterr().err)


def test_a_metrics_port_in_use_stops_the_bot_before_it_connects(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = dataclasses.replace(Settings(), guild_dbs_dir=tmp_path, metrics_port=port)
        with pytest.raises(ConfigurationError) as caught:
            create_bot(settings, token=make_token(123))
    assert caught.value.user_message == (
        f"METRICS_HOST:METRICS_PORT 127.0.0.1:{port} cannot be used (address already in use); "
        "choose another port or stop what listens there.")
