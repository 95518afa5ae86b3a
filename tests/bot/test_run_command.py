"""`python -m app run`: token, open-files and metrics-port checks first, then the legacy split, then the bot;
a failed split stops the launch."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.bot.app import BotApp
from app.cli import main
from app.config import Settings
from app.doubles.discord_payloads import make_token
from app.errors import UserFacingError


@pytest.fixture
def launch_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    log: list[str] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", make_token(4242))
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "guild_dbs"))

    def split(settings: Settings) -> None:
        log.append(f"split {settings.legacy_db.name}")

    def run(self: BotApp) -> None:
        log.append("bot runs")

    monkeypatch.setattr("app.legacy.launch.split_at_launch", split)
    monkeypatch.setattr(BotApp, "run", run)
    return log


def test_run_splits_the_legacy_database_before_the_bot_connects(launch_log: list[str]) -> None:
    assert main(["run"]) == 0
    assert launch_log == ["split database.db", "bot runs"]


def test_a_failed_split_stops_the_launch_with_its_sentence(
        launch_log: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def failing(settings: Settings) -> None:
        raise UserFacingError("The legacy split failed: table mystery is not mapped.")

    monkeypatch.setattr("app.legacy.launch.split_at_launch", failing)

    assert main(["run"]) == 1
    assert launch_log == []
    assert capsys.readouterr().err.strip() == "The legacy split failed: table mystery is not mapped."


def test_run_without_a_token_neither_splits_nor_starts(launch_log: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN")

    assert main(["run"]) == 1
    assert launch_log == []


def test_run_with_a_malformed_token_neither_splits_nor_starts(
        launch_log: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-token")

    assert main(["run"]) == 1
    assert launch_log == []  # the legacy database is not split for a bot that cannot log in
    assert capsys.readouterr().err.strip().splitlines() == [
        "DISCORD_TOKEN is not a bot token (three parts separated by dots, the first the bot's id); "
        "copy it again from Discord's developer portal."]


def test_run_with_more_open_files_than_allowed_neither_splits_nor_starts(
        launch_log: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 1024))  # a hard limit too low for 100,000
    monkeypatch.setenv("MAX_OPEN_GUILD_DBS", "100000")

    assert main(["run"]) == 1
    assert launch_log == []
    assert "MAX_OPEN_GUILD_DBS=100000" in capsys.readouterr().err


def test_run_with_the_metrics_port_in_use_neither_splits_nor_starts(
        launch_log: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        monkeypatch.setenv("METRICS_PORT", str(taken.getsockname()[1]))

        assert main(["run"]) == 1
    assert launch_log == []  # the legacy database is not split for a bot that would stop at once
    err = capsys.readouterr().err.strip()
    assert err.startswith("METRICS_HOST:METRICS_PORT 127.0.0.1:") and "cannot be used" in err


def test_the_metrics_port_checked_before_the_split_is_held_through_it_for_the_bot(
        launch_log: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Bound, closed, then bound again after the split: whatever took the port meanwhile (the split can take
    # minutes) made the bot stop once the guild files were already split.
    import socket

    from app.ops import health

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    monkeypatch.setenv("METRICS_PORT", str(port))

    def split(settings: Settings) -> None:
        with pytest.raises(OSError):
            socket.create_server(("127.0.0.1", port)).close()  # another program cannot take it now
        launch_log.append("split")

    def run(self: BotApp) -> None:
        server = self.ops.server  # made with the bot, on the socket held for it
        assert server is not None
        launch_log.append(f"served on {server.port}")
        asyncio.run(server.stop())

    monkeypatch.setattr("app.legacy.launch.split_at_launch", split)
    monkeypatch.setattr(BotApp, "run", run)

    assert main(["run"]) == 0
    assert launch_log == ["split", f"served on {port}"]
    assert health._reserved == {}  # the bot took the socket held for it
