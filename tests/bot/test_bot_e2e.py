"""The real GatewayBot + lightbulb client against the Discord double, end to end."""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from pathlib import Path

import pytest

from app.bot.app import INTENTS, BotApp, create_bot
from app.config import Settings
from app.db.registry import fetch_entry
from app.doubles.discord_payloads import make_token
from app.errors import ConfigurationError
from app.sandbox.harness import BotHarness, eventually, running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER, give_a_file

REF = re.compile(r"^Something went wrong on our side \(ref `([0-9a-f]{8})`\)\.$")


@pytest.mark.asyncio
async def test_startup_identifies_once_and_syncs_guild_only_commands(harness: BotHarness) -> None:
    double = harness.double
    assert double.gateway.identifies == 1
    assert double.command_syncs == 1
    session = next(iter(double.gateway.sessions))
    assert session.intents == int(INTENTS)
    server = next(c for c in double.commands[0] if c["name"] == "server")
    assert server["contexts"] == [0]
    assert int(server["default_member_permissions"]) == 1 << 5


@pytest.mark.asyncio
async def test_server_info_shows_this_guilds_file_to_an_admin(harness: BotHarness) -> None:
    await give_a_file(harness, GUILD_A)
    reply = await harness.command(GUILD_A, ADMIN, "server info", admin=True)

    assert reply.ephemeral
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["Schema version"] == "3"
    assert "guild_meta: 1" in next(v for k, v in fields.items() if k.startswith("Rows"))
    assert (harness.settings.guild_dbs_dir / f"{GUILD_A}.sqlite3").is_file()
    assert not (harness.settings.guild_dbs_dir / f"{GUILD_B}.sqlite3").exists()


@pytest.mark.asyncio
async def test_server_info_of_a_guild_never_written_shows_an_empty_one_and_creates_no_file(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), guild_file_creation="first-write")
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A], settings=settings) as harness:
        reply = await harness.command(GUILD_A, ADMIN, "server info", admin=True)

    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["Database size"] == "0 B" and fields["Schema version"] == "3"
    assert "guild_meta: 1" in next(v for k, v in fields.items() if k.startswith("Rows"))
    assert not (harness.settings.guild_dbs_dir / f"{GUILD_A}.sqlite3").exists()


@pytest.mark.asyncio
async def test_server_info_is_refused_to_a_member_without_manage_server(harness: BotHarness) -> None:
    reply = await harness.command(GUILD_A, MEMBER, "server info", admin=False)

    assert reply.ephemeral
    assert reply.content == "Only members with the Manage Server permission can use /server info."
    assert reply.embeds == []
    assert not (harness.settings.guild_dbs_dir / f"{GUILD_A}.sqlite3").exists()


@pytest.mark.asyncio
async def test_a_command_sent_from_a_dm_is_refused_without_opening_any_file(harness: BotHarness) -> None:
    reply = await harness.command(None, ADMIN, "server info", admin=True)

    assert reply.ephemeral
    assert reply.content == "This command works only inside a server, not in direct messages."
    assert harness.bot.manager.guild_ids_on_disk() == []


@pytest.mark.asyncio
async def test_unexpected_error_shows_only_a_reference_that_the_log_names(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(db: object) -> None:
        raise RuntimeError("no such table: secret_sql_detail")

    monkeypatch.setattr("app.extensions.server.fetch_guild_report", broken)
    with caplog.at_level(logging.ERROR, logger="app.bot.errors"):
        reply = await harness.command(GUILD_A, ADMIN, "server info", admin=True)

    match = REF.match(reply.content)
    assert match is not None, reply.content
    assert reply.ephemeral
    assert "secret_sql_detail" not in reply.content and "RuntimeError" not in reply.content
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert len(logged) == 1
    assert "/server info" in logged[0].getMessage() and str(GUILD_A) in logged[0].getMessage()
    assert logged[0].exc_info is not None


@pytest.mark.asyncio
async def test_unusable_guild_file_is_reported_in_one_sentence(harness: BotHarness) -> None:
    root = harness.settings.guild_dbs_dir
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{GUILD_A}.sqlite3").write_bytes(b"this is not a database" * 100)

    reply = await harness.command(GUILD_A, ADMIN, "server info", admin=True)

    assert reply.ephemeral
    assert "ref `" not in reply.content
    assert reply.content == ("This server's data file was damaged and has been set aside for the operator; "
                             "nothing was deleted.")
    assert any(p.name.startswith(f"{GUILD_A}.sqlite3") and p.name != f"{GUILD_A}.sqlite3"
               for p in root.iterdir())


@pytest.mark.asyncio
async def test_guild_join_and_leave_are_recorded_and_the_file_is_kept(harness: BotHarness) -> None:
    new_guild = 333_333_333_333_333_333
    manager = harness.bot.manager
    await harness.add_bot_to_guild(new_guild, "Newcomers")
    await give_a_file(harness, new_guild)
    assert manager.is_open(new_guild)

    async def joined() -> bool:
        async with manager.connect_bot() as bot_db:
            entry = await fetch_entry(bot_db, new_guild)
        return entry is not None and entry.name == "Newcomers" and entry.left_at is None

    await eventually(joined)
    await harness.remove_bot_from_guild(new_guild)

    async def left() -> bool:
        async with manager.connect_bot() as bot_db:
            entry = await fetch_entry(bot_db, new_guild)
        return entry is not None and entry.left_at is not None and not manager.is_open(new_guild)

    await eventually(left)
    assert manager.path_for(new_guild).is_file()


@pytest.mark.asyncio
async def test_guilds_present_at_startup_are_recorded_as_joined(harness: BotHarness) -> None:
    async def recorded() -> bool:
        async with harness.bot.manager.connect_bot() as bot_db:
            return all([await fetch_entry(bot_db, g) for g in (GUILD_A, GUILD_B)])

    await eventually(recorded)


def _open_sockets_and_files(root: Path) -> tuple[int, int]:
    links = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
             if os.path.exists(f"/proc/self/fd/{fd}")]
    return sum(link.startswith("socket:") for link in links), sum(str(root) in link for link in links)


@pytest.mark.asyncio
async def test_shutdown_closes_every_connection_socket_and_thread(tmp_path: Path) -> None:
    threads_before = threading.active_count()
    sockets_before, _ = _open_sockets_and_files(tmp_path)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B]) as h:
        for guild_id in (GUILD_A, GUILD_B):
            await h.command(guild_id, ADMIN, "server info", admin=True)
        manager = h.bot.manager
        assert manager.stats().open_now == 2
        sockets_open, files_open = _open_sockets_and_files(tmp_path)
        assert sockets_open > sockets_before and files_open >= 2
    assert manager.stats().open_now == 0
    assert not h.bot.bot.is_alive
    assert h.double.gateway.sessions == set()
    assert threading.active_count() == threads_before
    assert _open_sockets_and_files(tmp_path) == (sockets_before, 0)


def test_run_without_a_token_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_bot(Settings(guild_dbs_dir=tmp_path))
    message = caught.value.user_message
    assert "DISCORD_TOKEN" in message and "python -m app sandbox" in message


def test_bot_refuses_an_extension_without_a_loader(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        BotApp(Settings(guild_dbs_dir=tmp_path), token=make_token(1234), extensions=["app.bot.queries"])
