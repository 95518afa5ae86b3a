"""Interaction shapes the coming features need: resolved options, autocomplete, string selects."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import hikari
import pytest
import pytest_asyncio

from app.bot.app import extension_modules
from app.doubles import DoubleError
from app.doubles.discord_interactions import build_command_data
from app.sandbox.harness import BotHarness, running_bot

GUILD = 444_444_444_444_444_444
USER, OTHER = 900_000_000_000_000_009, 900_000_000_000_000_010


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    extensions = [*extension_modules(), "tests.doubles.widgets_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD], extensions=extensions) as h:
        yield h


@pytest.mark.asyncio
async def test_user_role_channel_and_attachment_options_arrive_resolved(harness: BotHarness) -> None:
    double = harness.double
    double.ensure_member(GUILD, OTHER, name="boris")
    role_id = await harness.give_role(GUILD, OTHER, hikari.Permissions.MANAGE_GUILD, name="Mods")
    double.uploads["list.csv"] = b"a,b\n1,2\n"
    guild = double.guilds[GUILD]

    reply = await harness.command(GUILD, USER, "widgets who", {
        "user": str(OTHER), "role": str(role_id), "channel": str(guild.channel_id), "file": "list.csv"})

    # hikari counts @everyone among an interaction member's roles
    assert reply.content == "user=boris member_roles=2 role=Mods channel=general file=list.csv:8"


@pytest.mark.asyncio
async def test_an_option_naming_someone_not_in_the_guild_is_refused(harness: BotHarness) -> None:
    with pytest.raises(DoubleError):
        await harness.send(GUILD, USER, "widgets who", {"user": "12345"})


@pytest.mark.asyncio
async def test_autocomplete_offers_the_bots_choices(harness: BotHarness) -> None:
    choices = await harness.autocomplete(GUILD, USER, "widgets pick", "title", "bl")
    assert [c["name"] for c in choices] == ["Bleach", "Blue Period"]


@pytest.mark.asyncio
async def test_a_string_select_delivers_the_chosen_values(harness: BotHarness) -> None:
    await harness.command(GUILD, USER, "widgets pick", {"title": "Frieren"})
    done = await harness.select(GUILD, USER, "Pick genres", ["Drama", "Action"])
    assert done.content == "Picked Drama, Action." and done.selects() == []


@pytest.mark.asyncio
async def test_a_value_the_menu_does_not_offer_is_refused(harness: BotHarness) -> None:
    await harness.command(GUILD, USER, "widgets pick", {"title": "Frieren"})
    with pytest.raises(DoubleError):
        await harness.choose(GUILD, USER, "Pick genres", ["Horror"])
    with pytest.raises(DoubleError):
        await harness.choose(GUILD, USER, "Pick genres", ["Drama", "Action", "Romance"])


TYPED = {"id": "1", "name": "typed", "options": [
    {"name": "flag", "description": "d", "type": 5}, {"name": "count", "description": "d", "type": 4},
    {"name": "ratio", "description": "d", "type": 10}]}


@pytest.mark.parametrize(("option", "raw", "value"), [
    ("flag", "true", True), ("flag", "False", False), ("flag", "yes", True), ("flag", "0", False),
    ("count", "-12", -12), ("count", "7", 7), ("ratio", "2.5", 2.5), ("ratio", "-3", -3.0)])
def test_typed_options_arrive_as_discords_client_sends_them(option: str, raw: str, value: object) -> None:
    data = build_command_data(TYPED, [], {option: raw})
    sent = data["options"][0]["value"]
    assert sent == value and type(sent) is type(value)


@pytest.mark.parametrize(("option", "raw"), [
    ("flag", "maybe"), ("flag", ""), ("count", "١٢"), ("count", "１２"), ("count", "²"), ("count", "1.5"),
    ("count", str(2**53 + 1)), ("ratio", "nan"), ("ratio", "inf"), ("ratio", "1e999"), ("ratio", "٣")])
def test_a_typed_option_discords_client_would_not_send_is_refused(option: str, raw: str) -> None:
    # Discord's client offers true/false for a boolean and takes ASCII numbers within ±2**53 only
    with pytest.raises(DoubleError, match=option):
        build_command_data(TYPED, [], {option: raw})


CHOSEN = {"id": "2", "name": "chosen", "options": [
    {"name": "status", "description": "d", "type": 3,
     "choices": [{"name": "reading", "value": "CURRENT"}, {"name": "completed", "value": "COMPLETED"}]},
    {"name": "size", "description": "d", "type": 4, "choices": [{"name": "small", "value": 1}]}]}


@pytest.mark.parametrize(("option", "raw", "value"), [
    ("status", "COMPLETED", "COMPLETED"), ("status", "completed", "COMPLETED"), ("status", "Reading", "CURRENT"),
    ("size", "1", 1), ("size", "small", 1)])
def test_an_option_with_choices_sends_the_chosen_value(option: str, raw: str, value: object) -> None:
    # Discord's client shows the choices' names and sends the value of the one picked
    assert build_command_data(CHOSEN, [], {option: raw})["options"][0]["value"] == value


def test_a_value_outside_the_choices_goes_as_typed_for_the_bots_own_check() -> None:
    # as a modified client would send it: the bot validates again (tests/features/test_progress_e2e.py)
    assert build_command_data(CHOSEN, [], {"status": "finished"})["options"][0]["value"] == "finished"
    assert build_command_data(CHOSEN, [], {"size": "2"})["options"][0]["value"] == 2
    with pytest.raises(DoubleError, match="whole number"):
        build_command_data(CHOSEN, [], {"size": "big"})
