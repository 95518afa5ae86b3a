"""A command answers in one call when it is quick, and defers first only when its work runs long.

Discord gives an interaction 3 s for its first answer. A deferral ("thinking…") meets that deadline for
slow work, but it is a second REST call for every interaction that did not need it. Nothing else runs
for every command either (the last test).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import hikari
import pytest
import pytest_asyncio
from aiohttp import web

from app.bot import deferral, extension_modules
from app.bot.clock import Clock, Timer
from app.bot.deferral import DEFER_AFTER_S, PRIVATE_ANSWER, Client, Context
from app.db.slots import Lease
from app.doubles import discord_payloads as payloads
from app.doubles import discord_rest_interactions
from app.doubles.discord_errors import RestError
from app.doubles.discord_payloads import DISCORD_EPOCH_MS
from app.doubles.discord_state import InteractionRecord
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A, MEMBER, acknowledged

MESSAGE_CREATE, DEFERRED = 4, 5
CREATED_S = deferral._created_s  # when Discord created an interaction, read from its id


@pytest.fixture(autouse=True)
def armed(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The deferral timers' delays; they fire at an advance (`harness.advance`) only, never in real time.

    Whether a command is quick or slow is each test's to say, not the machine's: under load a quick command
    took more than a real DEFER_AFTER_S now and then (a deferral the test did not expect), and a stuck one was
    deferred before the test looked. Every interaction counts as seen by the bot the moment Discord created it,
    so each timer is armed for DEFER_AFTER_S (the backlog test gives back the ids' own creation times).
    """
    delays: list[float] = []
    call_later = Clock.call_later

    def on_advance_only(self: Clock, seconds: float, work: Callable[[], Awaitable[object]]) -> Timer:
        delays.append(seconds)
        timer = call_later(self, seconds, work)
        assert timer.handle is not None
        timer.handle.cancel()  # the loop's timer, the real time's; an advance past `due` still fires it
        return timer

    monkeypatch.setattr(Clock, "call_later", on_advance_only)
    monkeypatch.setattr(deferral, "_created_s", lambda _: time.time())
    return delays


@pytest.mark.asyncio
async def test_a_quick_private_command_answers_privately_in_one_call(harness: BotHarness, armed: list[float]) -> None:
    record = await harness.send(GUILD_A, ADMIN, "server info", admin=True)
    reply = await harness.answer(record)

    assert record.response_type == MESSAGE_CREATE  # no deferral went first
    assert reply.ephemeral and reply.embeds[0]["title"] == "This server's database"
    assert len(record.replies) == 1
    assert armed == [DEFER_AFTER_S]  # a deferral was due if the answer had taken that long


@pytest.mark.asyncio
async def test_a_quick_public_command_answers_publicly_in_one_call(harness: BotHarness, armed: list[float]) -> None:
    record = await harness.send(GUILD_A, MEMBER, "leaderboard")
    reply = await harness.answer(record)

    assert record.response_type == MESSAGE_CREATE
    assert not reply.ephemeral and reply.embeds[0]["title"] == "XP leaderboard"
    assert armed == [DEFER_AFTER_S]


@pytest.mark.asyncio
async def test_a_public_commands_quick_refusal_of_its_input_is_private(harness: BotHarness,
                                                                       armed: list[float]) -> None:
    # the error answer asks for ephemeral: a direct answer honours it (a public deferral would not)
    record = await harness.send(GUILD_A, MEMBER, "profile", {"member": str(harness.double.app_id)})
    reply = await harness.answer(record)

    assert record.response_type == MESSAGE_CREATE
    assert reply.ephemeral and reply.content.startswith("Bots ")
    assert armed == [DEFER_AFTER_S]


def _gate(monkeypatch: pytest.MonkeyPatch, owner: object, name: str,
          applies: Callable[..., bool] = lambda *_: True) -> tuple[asyncio.Event, asyncio.Event]:
    """`owner.name` (a coroutine function), when `applies` to its arguments, sets `arrived`, waits for `let_through`."""
    arrived, let_through = asyncio.Event(), asyncio.Event()
    original = getattr(owner, name)

    async def gated(*args: Any) -> Any:
        if applies(*args):
            arrived.set()
            await let_through.wait()
        return await original(*args)

    monkeypatch.setattr(owner, name, gated)
    return arrived, let_through


def _slow_leases(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Every lease waits for `release` once it has set `opening`: a command stuck opening its file."""
    return _gate(monkeypatch, Lease, "__aenter__")


def _slow_callbacks(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Discord takes an interaction's first answer (`/callback`) only once `let_through` is set."""
    return _gate(monkeypatch, discord_rest_interactions, "read_body",
                 lambda request: request.path.endswith("/callback"))


@pytest.mark.asyncio
@pytest.mark.parametrize(("user", "command", "admin", "ephemeral"), [
    (ADMIN, "server info", True, True), (MEMBER, "leaderboard", False, False)])
async def test_a_command_whose_work_runs_long_is_deferred_before_discords_deadline(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch, user: int, command: str, admin: bool,
        ephemeral: bool) -> None:
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)  # the file exists
    opening, release = _slow_leases(monkeypatch)
    record = await harness.send(GUILD_A, user, command, admin=admin)
    await asyncio.wait_for(opening.wait(), 10)
    assert record.response_type is None  # not yet: the command may still answer at once

    await harness.advance(timedelta(seconds=DEFER_AFTER_S))  # the bot's and Discord's clocks alike
    await acknowledged(record)
    assert record.response_type == DEFERRED
    harness.double.clock.advance(10)  # long past the 3 s of the first answer: only the deferral kept it
    release.set()
    reply = await harness.answer(record)

    assert reply.kind == "message" and reply.embeds and reply.ephemeral is ephemeral
    assert "Something went wrong" not in reply.content


@pytest.mark.asyncio
async def test_time_passing_past_the_deadline_at_once_still_finds_the_command_deferred(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)
    opening, release = _slow_leases(monkeypatch)
    record = await harness.send(GUILD_A, ADMIN, "server info", admin=True)
    await asyncio.wait_for(opening.wait(), 10)

    await harness.advance(timedelta(seconds=5))  # the deferral reaches Discord before its clock moves
    release.set()
    reply = await harness.answer(record)

    assert record.response_type == DEFERRED and reply.embeds and reply.ephemeral


async def _bots_profile_stuck_opening(harness: BotHarness, monkeypatch: pytest.MonkeyPatch
                                      ) -> tuple[InteractionRecord, asyncio.Event]:
    """/profile of a bot (a public command whose answer is an error, private), its file slow to open."""
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)
    opening, release = _slow_leases(monkeypatch)
    record = await harness.send(GUILD_A, MEMBER, "profile", {"member": str(harness.double.app_id)})
    await asyncio.wait_for(opening.wait(), 10)
    return record, release


@pytest.mark.asyncio
async def test_a_slow_public_commands_private_answer_replaces_its_public_thinking_message(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    record, release = await _bots_profile_stuck_opening(harness, monkeypatch)
    await harness.advance(timedelta(seconds=5))  # deferred publicly: "thinking…" for everyone
    release.set()
    replies = await harness.settle(record)

    assert record.response_type == DEFERRED
    assert [(reply.kind, reply.ephemeral) for reply in replies] == [("deleted", False), ("message", True)]
    assert replies[1].content.startswith("Bots ")
    assert await harness.answer(record) is replies[1]  # the answer the member sees, not the deleted placeholder


@pytest.mark.asyncio
async def test_a_private_answer_sent_while_the_public_deferral_is_on_its_way_stays_private(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    record, release = await _bots_profile_stuck_opening(harness, monkeypatch)
    arrived, let_through = _slow_callbacks(monkeypatch)
    answering = asyncio.Event()
    respond = Context.respond

    async def noted(self: Context, *args: Any, **kwargs: Any) -> Any:
        answering.set()
        return await respond(self, *args, **kwargs)

    monkeypatch.setattr(Context, "respond", noted)
    harness.clock.advance(timedelta(seconds=DEFER_AFTER_S))  # the timer fires: its public deferral is sent
    await asyncio.wait_for(arrived.wait(), 10)
    release.set()  # meanwhile the command fails: its error answer is private
    await asyncio.wait_for(answering.wait(), 10)  # it waits for the deferral, still on its way
    let_through.set()
    replies = await harness.settle(record)

    assert [(reply.kind, reply.ephemeral) for reply in replies] == [("deleted", False), ("message", True)]


async def _publicly_deferred(harness: BotHarness, monkeypatch: pytest.MonkeyPatch
                             ) -> tuple[InteractionRecord, asyncio.Event]:
    """/profile of a bot stuck opening its file, deferred publicly, not answered yet."""
    record, release = await _bots_profile_stuck_opening(harness, monkeypatch)
    await harness.advance(timedelta(seconds=DEFER_AFTER_S))
    await acknowledged(record)
    return record, release


@pytest.mark.asyncio
async def test_a_private_answer_after_a_moderator_deleted_the_thinking_message_still_arrives(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    record, release = await _publicly_deferred(harness, monkeypatch)
    assert record.original is not None
    record.original.kind = "deleted"  # Discord then answers 10008 to the bot's own delete
    release.set()
    replies = await harness.settle(record)

    assert [(reply.kind, reply.ephemeral) for reply in replies] == [("deleted", False), ("message", True)]
    assert replies[1].content.startswith("Bots ")


@pytest.mark.asyncio
async def test_a_thinking_message_discord_will_not_delete_says_where_the_answer_went(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    record, release = await _publicly_deferred(harness, monkeypatch)
    original = discord_rest_interactions.InteractionRoutes._target

    def refusing(self: Any, request: web.Request) -> Any:
        if request.method == "DELETE":
            raise RestError(403, 50001, "Missing Access")
        return original(self, request)

    monkeypatch.setattr(discord_rest_interactions.InteractionRoutes, "_target", refusing)
    release.set()
    replies = await harness.settle(record)

    assert [(reply.kind, reply.ephemeral) for reply in replies] == [("message", False), ("message", True)]
    assert replies[0].content == PRIVATE_ANSWER and replies[1].content.startswith("Bots ")


@pytest.mark.asyncio
async def test_a_command_arriving_while_the_bot_stops_arms_no_timer(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)
    opening, _ = _slow_leases(monkeypatch)
    client = harness.bot.client
    assert isinstance(client, Client)
    client.stopping = True  # what stop() sets first; other StoppingEvent listeners may still be running
    await harness.send(GUILD_A, ADMIN, "server info", admin=True)
    await asyncio.wait_for(opening.wait(), 10)

    assert not harness.clock._timers


@pytest.mark.asyncio
async def test_a_bot_stopping_with_a_command_in_flight_leaves_no_timer(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # a timer firing after the stop would defer through a closed REST client
    await harness.command(GUILD_A, ADMIN, "server info", admin=True)
    opening, _ = _slow_leases(monkeypatch)
    await harness.send(GUILD_A, ADMIN, "server info", admin=True)
    await asyncio.wait_for(opening.wait(), 10)
    assert harness.clock._timers

    await harness.restart()

    assert not harness.clock._timers


@pytest.mark.asyncio
async def test_a_refusal_by_a_check_answers_at_once_and_privately(harness: BotHarness) -> None:
    record = await harness.send(GUILD_A, MEMBER, "server info")
    reply = await harness.answer(record)

    assert record.response_type == MESSAGE_CREATE and reply.ephemeral


@pytest.mark.asyncio
async def test_an_interaction_that_waited_in_a_backlog_is_deferred_at_once(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # its id says Discord created it DEFER_AFTER_S ago: the time to its deadline went by before the bot saw it
    monkeypatch.setattr(deferral, "_created_s", CREATED_S)  # what this test is about: the id's time
    late_ms = int((time.time() - DEFER_AFTER_S - 0.5) * 1000) - DISCORD_EPOCH_MS
    ids = itertools.count(1)
    monkeypatch.setattr(payloads, "new_snowflake", lambda: late_ms << 22 | next(ids))
    record = await harness.send(GUILD_A, ADMIN, "server info", admin=True)
    reply = await harness.answer(record)

    assert record.response_type == DEFERRED
    assert reply.ephemeral and reply.embeds[0]["title"] == "This server's database"


@pytest.mark.asyncio
async def test_no_extension_listens_to_every_slash_command(harness: BotHarness) -> None:
    # a listener on InteractionCreateEvent ran its dependency injection for every command, to ignore it
    listeners = harness.bot.bot.event_manager.get_listeners(hikari.CommandInteractionCreateEvent)

    assert [listener.__name__ for listener in listeners] == ["handle_interaction"]  # lightbulb's own


@pytest_asyncio.fixture
async def quiet(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot with `/quiet …` (tests/bot/quiet_ext.py): commands that return without answering."""
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A],
                           extensions=[*extension_modules(), "tests.bot.quiet_ext"]) as h:
        yield h


def _unanswered_logged(caplog: pytest.LogCaptureFixture, command: str, reply_text: str) -> bool:
    """The error log names the command that forgot its answer and the reference the member was given."""
    ref = re.search(r"ref `([0-9a-f]{8})`", reply_text)
    return ref is not None and any(command in r.getMessage() and ref.group(1) in r.getMessage()
                                   and r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.asyncio
async def test_a_command_that_returns_without_answering_still_answers_the_member(
        quiet: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="app.bot.errors"):
        record = await quiet.send(GUILD_A, MEMBER, "quiet now")
        reply = await quiet.answer(record)

    assert record.response_type == MESSAGE_CREATE and reply.ephemeral  # at once, in one call, privately
    assert reply.content.startswith("Something went wrong on our side (ref `")
    assert _unanswered_logged(caplog, "/quiet now", reply.content)
    counted = quiet.bot.ops.metrics.registry.get_sample_value
    assert counted("guildshelf_commands_total", {"command": "quiet now", "outcome": "internal_error"}) == 1
    assert counted("guildshelf_commands_total", {"command": "quiet now", "outcome": "ok"}) is None


@pytest.mark.asyncio
@pytest.mark.parametrize(("command", "replies"), [
    ("quiet later", [("message", True)]),  # the private "thinking…" filled in
    ("quiet later-public", [("deleted", False), ("message", True)])])  # the public one gone, the answer private
async def test_a_deferred_command_that_returns_without_answering_does_not_leave_thinking_forever(
        quiet: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        command: str, replies: list[tuple[str, bool]]) -> None:
    await quiet.command(GUILD_A, ADMIN, "server info", admin=True)  # the file exists
    opening, release = _slow_leases(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="app.bot.errors"):
        record = await quiet.send(GUILD_A, MEMBER, command)
        await asyncio.wait_for(opening.wait(), 10)
        await quiet.advance(timedelta(seconds=DEFER_AFTER_S))
        await acknowledged(record)
        release.set()
        settled = await quiet.settle(record)

    assert record.response_type == DEFERRED
    assert [(reply.kind, reply.ephemeral) for reply in settled] == replies
    assert settled[-1].content.startswith("Something went wrong on our side (ref `")
    assert _unanswered_logged(caplog, f"/{command}", settled[-1].content)
