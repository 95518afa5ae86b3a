"""The Discord double carries every answer shape the bot uses: buttons, modals, files, deferrals."""
from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from app.bot.app import extension_modules
from app.doubles import DiscordDouble, DoubleError
from app.doubles.discord_payloads import make_token
from app.sandbox.harness import BotHarness, eventually, running_bot

GUILD = 444_444_444_444_444_444
USER = 900_000_000_000_000_009


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    extensions = [*extension_modules(), "tests.doubles.widgets_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD], extensions=extensions) as h:
        yield h


@pytest.mark.asyncio
async def test_button_then_modal_then_reply(harness: BotHarness) -> None:
    first = await harness.command(GUILD, USER, "widgets confirm")
    assert [b["label"] for b in first.buttons()] == ["Confirm", "Cancel"]

    modal = await harness.click(GUILD, USER, "Confirm")
    assert modal.kind == "modal" and modal.modal is not None
    assert modal.modal["title"] == "Type the server's name"

    done = await harness.submit_modal(GUILD, USER, {"Server name": "Manga Club"})
    assert done.content == "You typed 'Manga Club'."
    assert done.ephemeral


@pytest.mark.asyncio
async def test_cancel_button_edits_the_original_message(harness: BotHarness) -> None:
    await harness.command(GUILD, USER, "widgets confirm")
    edited = await harness.click(GUILD, USER, "cancel")  # by custom_id

    assert edited.content == "Cancelled; nothing changed."
    assert edited.buttons() == []


@pytest.mark.asyncio
async def test_buttons_on_a_followup_can_be_pressed(harness: BotHarness) -> None:
    record = await harness.send(GUILD, USER, "widgets later")
    followup = (await harness.double.wait_followups(record, 1))[0]

    edited = await harness.click(GUILD, USER, "Cancel")

    assert edited.message_id == followup.message_id
    assert edited.content == "Cancelled; nothing changed."
    assert record.replies[0].content == "Working on it."


@pytest.mark.asyncio
async def test_attachments_arrive_with_name_and_size(harness: BotHarness) -> None:
    reply = await harness.command(GUILD, USER, "widgets file", {"size": "1234"})

    assert [(a.filename, a.size) for a in reply.attachments] == [("report.txt", 1234)]
    assert reply.payload["attachments"][0]["size"] == 1234


@pytest.mark.asyncio
async def test_deferred_answer_is_the_edited_original_plus_followups(harness: BotHarness) -> None:
    record = await harness.send(GUILD, USER, "widgets slow")
    first = await harness.double.wait_reply(record)
    followups = await harness.double.wait_followups(record, 1)

    assert first.content == "Done after a while." and first.ephemeral
    assert [f.content for f in followups] == ["And one more thing."]


@pytest.mark.asyncio
async def test_unknown_commands_subcommands_and_options_are_refused_by_the_double(harness: BotHarness) -> None:
    for command, options in (("nope", {}), ("widgets", {}), ("widgets file", {"colour": "red"}),
                             ("widgets file", {"size": "big"})):
        with pytest.raises(DoubleError):
            await harness.send(GUILD, USER, command, options)


@pytest.mark.asyncio
async def test_listeners_get_the_database_of_their_events_guild_only(harness: BotHarness) -> None:
    other = 555_555_555_555_555_555
    await harness.add_bot_to_guild(other)
    await harness.member_join(GUILD, USER, invite="abc")
    await harness.member_join(GUILD, USER + 1)
    manager = harness.bot.manager

    async def counted() -> bool:
        async with manager.connect(GUILD) as db:
            row = await db.execute_fetchone("SELECT value FROM guild_settings WHERE key = 'test.joins'")
        return row is not None and row[0] == "2"

    await eventually(counted)
    assert not manager.path_for(other).exists()
    assert harness.double.guilds[GUILD].invites["abc"].uses == 1


@pytest.mark.asyncio
async def test_a_failing_listener_is_logged_with_a_reference_and_the_bot_keeps_answering(
        harness: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="app.bot.errors"):
        await harness.say(GUILD, USER, "hello")

        async def logged() -> bool:
            return any("listener" in r.getMessage() and "(ref " in r.getMessage() for r in caplog.records)

        await eventually(logged)
    reply = await harness.command(GUILD, USER, "widgets file")
    assert reply.content == "Here it is."


@pytest.mark.asyncio
async def test_gateway_is_zlib_stream_compressed_and_rejects_a_wrong_token() -> None:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http, \
            http.ws_connect(f"{double.gateway_url}?v=10&encoding=json&compress=zlib-stream") as ws:
        hello = await ws.receive_bytes()
        inflator = zlib.decompressobj()
        assert b'"op":10' in inflator.decompress(hello)
        await ws.send_json({"op": 2, "d": {"token": make_token(1), "intents": 1, "properties": {}}})
        closed = await ws.receive()
        assert closed.type == aiohttp.WSMsgType.CLOSE
        assert closed.data == 4004


@pytest.mark.asyncio
async def test_a_privileged_intent_not_enabled_closes_the_gateway_with_4014() -> None:
    async with DiscordDouble(allow_guild_members_intent=False) as double, aiohttp.ClientSession() as http, \
            http.ws_connect(f"{double.gateway_url}?v=10&encoding=json") as ws:
        assert (await ws.receive_json())["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": double.token, "intents": 1 | 2, "properties": {}}})
        closed = await ws.receive()
        assert closed.type == aiohttp.WSMsgType.CLOSE
        assert closed.data == 4014
