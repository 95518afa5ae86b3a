"""The Dockerfile, compose.yaml and the systemd unit name paths, modules and settings that exist (no build here)."""
from __future__ import annotations

import asyncio
import dataclasses
import re
import shlex
import socket
from pathlib import Path

import pytest

from app.cli import build_parser
from app.config import Settings
from app.db.limits import FDS_PER_CONNECTION, HEADROOM
from app.db.manager import LIVE_SLACK
from app.ops import probe
from app.sandbox.harness import running_bot

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()
UNIT = (ROOT / "deploy" / "guildshelf.service").read_text()
SETTINGS = set(re.findall(r'env(?:\.get\(|, )"([A-Z_]+)"', (ROOT / "app" / "config.py").read_text()))


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^([A-Z]+)\s+(.*)$", joined, re.M)]


def _docker(keyword: str) -> list[str]:
    return [args for name, args in _instructions(DOCKERFILE) if name == keyword]


def _docker_env() -> dict[str, str]:
    return dict(pair.split("=", 1) for args in _docker("ENV") for pair in shlex.split(args))


def _unit(key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", UNIT, re.M)


def _runs_the_bot(argv: list[str]) -> None:
    assert argv[argv.index("-m") + 1] == "app", argv
    args = build_parser().parse_args(argv[argv.index("-m") + 2:])
    assert args.command == "run"


def test_the_settings_list_is_read_from_config() -> None:
    assert {"DISCORD_TOKEN", "GUILD_DBS_DIR", "METRICS_PORT", "MAX_GUILD_DB_MB", "RATE_MEMBER"} <= SETTINGS


def test_the_dockerfile_uses_slim_python_311_a_non_root_user_and_files_that_exist() -> None:
    assert _docker("FROM") == ["python:3.11-slim"]
    assert _docker("USER") and _docker("USER")[-1] not in ("root", "0")
    for args in _docker("COPY"):
        *sources, _target = args.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    assert "-c constraints.txt" in _docker("RUN")[0]


def test_the_dockerfile_runs_the_bot_keeps_data_on_the_volume_and_probes_healthz() -> None:
    env = _docker_env()
    assert set(env) - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK"} <= SETTINGS
    volume = re.findall(r'"([^"]+)"', _docker("VOLUME")[0])
    assert volume == ["/data"]
    assert env["GUILD_DBS_DIR"].startswith("/data/") and env["LEGACY_DB"].startswith("/data/")
    assert _docker("EXPOSE") == [env["METRICS_PORT"]]
    _runs_the_bot(re.findall(r'"([^"]+)"', _docker("CMD")[0]))
    health = re.findall(r'"([^"]+)"', _docker("HEALTHCHECK")[0])
    assert health == ["python", "-m", "app.ops.probe"]
    assert probe.health_url(dataclasses.replace(Settings(), metrics_host=env["METRICS_HOST"],
                                                metrics_port=int(env["METRICS_PORT"]))) == \
        f"http://127.0.0.1:{env['METRICS_PORT']}/healthz"


def test_compose_probes_like_the_dockerfile_and_names_real_settings() -> None:
    assert '["CMD", "python", "-m", "app.ops.probe"]' in COMPOSE
    names = set(re.findall(r"^\s{6}([A-Z_]+):", COMPOSE, re.M))
    assert names and names <= SETTINGS
    assert "guildshelf-data:/data" in COMPOSE
    assert "build: ." in COMPOSE


def test_the_unit_runs_the_bot_with_enough_file_descriptors() -> None:
    _runs_the_bot(shlex.split(_unit("ExecStart")[0]))
    assert _unit("ExecStart")[0].startswith(_unit("WorkingDirectory")[0] + "/.venv/bin/python ")
    environment = dict(value.split("=", 1) for value in _unit("Environment"))
    assert set(environment) <= SETTINGS
    max_open = int(environment["MAX_OPEN_GUILD_DBS"])
    needed = FDS_PER_CONNECTION * (max_open + LIVE_SLACK) + HEADROOM
    assert int(_unit("LimitNOFILE")[0]) >= needed
    assert f"= {needed}." in UNIT  # the comment's arithmetic is the code's
    assert environment["GUILD_DBS_DIR"].startswith(_unit("ReadWritePaths")[0])


@pytest.mark.asyncio
async def test_the_probe_says_healthy_only_when_healthz_answers_200(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), metrics_port=0)
    async with running_bot(tmp_path / "guild_dbs", settings=settings) as h:
        server = h.bot.ops.server
        assert server is not None
        bound = dataclasses.replace(settings, metrics_port=server.port)
        healthy = await asyncio.to_thread(probe.probe, bound)
        await h.bot.manager.close_all()
        unhealthy = await asyncio.to_thread(probe.probe, bound)
    assert healthy[0] and healthy[1].endswith("/healthz: ok")
    assert not unhealthy[0] and unhealthy[1].endswith("the bot-wide file did not answer")


def test_the_probe_fails_with_a_sentence_when_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        down = probe.probe(dataclasses.replace(Settings(), metrics_port=port))
    assert not down[0] and "did not answer" in down[1]
    assert probe.probe(Settings()) == (False, "METRICS_PORT is not set, so the bot serves no /healthz.")
