"""Against the strict double (3 s to answer): a slow database never turns into "interaction failed"."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.db import GuildDatabaseManager
from app.db.slots import Lease
from app.sandbox.harness import BotHarness
from tests.e2e import ADMIN, GUILD_A, MEMBER

SLOW_S = 4.0


def _slow_leases(monkeypatch: pytest.MonkeyPatch, delay: Callable[[], Any]) -> None:
    """Every guild database lease, and the bot-wide file, take `delay()` before they open."""
    original = Lease.__aenter__
    original_bot = GuildDatabaseManager._bot_db

    async def slow_enter(self: Lease) -> Any:
        await delay()
        return await original(self)

    async def slow_bot_db(self: GuildDatabaseManager) -> Any:
        await delay()
        return await original_bot(self)

    monkeypatch.setattr(Lease, "__aenter__", slow_enter)
    monkeypatch.setattr(GuildDatabaseManager, "_bot_db", slow_bot_db)


def _advance_the_clocks(harness: BotHarness) -> Callable[[], Any]:
    """4 s pass (the bot's clock and Discord's) while the database opens, without the test waiting them."""
    async def delay() -> None:
        await harness.advance(timedelta(seconds=SLOW_S))
    return delay


@pytest.mark.asyncio
async def test_server_info_answers_although_the_database_takes_four_seconds(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    _slow_leases(monkeypatch, lambda: asyncio.sleep(SLOW_S))

    reply = await harness.command(GUILD_A, ADMIN, "server info", admin=True, timeout=SLOW_S + 10)

    assert reply.ephemeral
    assert reply.embeds and reply.embeds[0]["title"] == "This server's database"


@pytest.mark.asyncio
@pytest.mark.parametrize("command", ["server info", "server-data export", "my-data export"])
async def test_commands_that_read_a_file_answer_although_it_opens_slowly(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)  # the file exists
    _slow_leases(monkeypatch, _advance_the_clocks(harness))

    reply = await harness.command(GUILD_A, ADMIN, command, admin=True)

    assert reply.kind == "message" and (reply.content or reply.embeds)
    assert "Something went wrong" not in reply.content


@pytest.mark.asyncio
async def test_my_data_delete_confirmation_answers_although_the_erase_is_slow(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.command(GUILD_A, MEMBER, "my-data delete")
    _slow_leases(monkeypatch, _advance_the_clocks(harness))

    done = await harness.click(GUILD_A, MEMBER, "Erase my data")

    assert done.buttons() == [] and "Something went wrong" not in done.content
    assert done.content


@pytest.mark.asyncio
async def test_server_data_delete_modal_answers_although_the_deletion_is_slow(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)
    await harness.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    await harness.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    _slow_leases(monkeypatch, _advance_the_clocks(harness))
    name = harness.double.guilds[GUILD_A].name

    done = await harness.submit_modal(GUILD_A, ADMIN, {"Server name": name}, admin=True)

    assert done.content and "Something went wrong" not in done.content

