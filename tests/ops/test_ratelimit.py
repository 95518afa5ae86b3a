"""The bot's own command budget: token buckets per member and per guild, checked before any other work."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest

from app.bot.app import extension_modules
from app.config import Settings, load_settings
from app.errors import ConfigurationError
from app.ops.ratelimit import CommandBudget, Rate, parse_rate
from app.sandbox.harness import running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B

RETRY = re.compile(r"try again in (\d+) seconds?\.$")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("text", "rate"), [("5/10s", Rate(5, 10)), (" 60 / 1m ", Rate(60, 60)),
                                            ("100/1h", Rate(100, 3600))])
def test_rates_are_read_in_seconds_minutes_or_hours(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["5", "0/10s", "5/0s", "5/10", "five/10s", "5/10d", "-1/10s"])
def test_unusable_rates_are_refused_with_the_variable_named(text: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"RATE_MEMBER": text})
    assert caught.value.user_message.startswith("RATE_MEMBER must be COUNT/PERIOD")


def test_defaults_are_five_per_ten_seconds_per_member_and_sixty_per_guild() -> None:
    settings = load_settings({})
    assert (settings.rate_member, settings.rate_guild) == (Rate(5, 10), Rate(60, 10))
    assert load_settings({"RATE_GUILD": "10/1m"}).rate_guild == Rate(10, 60)


def test_a_member_gets_their_budget_then_waits_for_one_token() -> None:
    time = FakeTime()
    budget = CommandBudget(Rate(5, 10), Rate(60, 10), time)
    assert [budget.take(1, 7) for _ in range(5)] == [None] * 5
    refusal = budget.take(1, 7)
    assert refusal is not None and refusal.scope == "member"
    assert refusal.retry_after_s == pytest.approx(2.0)
    time.now += 1.9
    assert budget.take(1, 7) is not None
    time.now += 0.2
    assert budget.take(1, 7) is None
    assert budget.take(1, 8) is None  # another member is not affected


def test_a_refusal_spends_nothing_from_either_budget() -> None:
    time = FakeTime()
    budget = CommandBudget(Rate(1, 10), Rate(2, 10), time)
    assert budget.take(1, 7) is None
    for _ in range(10):
        assert budget.take(1, 7) is not None  # the member is refused: the guild keeps its token
    assert budget.take(1, 8) is None
    refusal = budget.take(1, 9)
    assert refusal is not None and refusal.scope == "guild"
    assert budget.take(2, 9) is None  # the refused member still had their token


@pytest.mark.asyncio
async def test_a_flooding_member_is_refused_while_others_are_served(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), rate_member=Rate(3, 10), rate_guild=Rate(100, 10))
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A], settings=settings) as h:
        flood = [await h.command(GUILD_A, ADMIN, "server info", admin=True) for _ in range(3)]
        stats = h.bot.manager.stats()
        record = await h.send(GUILD_A, ADMIN, "server info", admin=True)
        refused = await h.answer(record)
        work_after_refusal = h.bot.manager.stats()
        other = await h.command(GUILD_A, ADMIN + 1, "server info", admin=True)
        await h.advance(timedelta(seconds=10))
        again = await h.command(GUILD_A, ADMIN, "server info", admin=True)
        counted = h.bot.ops.metrics.rate_limited.labels("member")._value.get()

    assert all(r.embeds for r in flood)
    assert refused.ephemeral and refused.embeds == []
    assert refused.content.startswith("You are using commands faster than the bot allows; try again in ")
    match = RETRY.search(refused.content)
    assert match is not None and 1 <= int(match.group(1)) <= 4
    assert (work_after_refusal.hits, work_after_refusal.misses) == (stats.hits, stats.misses)  # no file touched
    assert record.response_type == 4  # answered at once (CHANNEL_MESSAGE_WITH_SOURCE): no deferral went first
    assert other.embeds and again.embeds
    assert counted == 1


@pytest.mark.asyncio
async def test_a_flooded_guild_is_refused_while_other_guilds_are_served(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), rate_member=Rate(2, 10), rate_guild=Rate(5, 10))
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B], settings=settings) as h:
        members = [ADMIN + i for i in range(3)]
        served = [await h.command(GUILD_A, m, "server info", admin=True) for m in members for _ in range(2)]
        other_guild = await h.command(GUILD_B, ADMIN + 10, "server info", admin=True)
        counted = h.bot.ops.metrics.rate_limited.labels("guild")._value.get()

    assert [bool(r.embeds) for r in served] == [True] * 5 + [False]
    assert served[-1].content.startswith("This server is using the bot's commands faster than it allows; try again")
    assert served[-1].ephemeral
    assert other_guild.embeds
    assert counted == 1


@pytest.mark.asyncio
async def test_the_budget_and_the_metrics_cover_a_command_of_any_extension(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), rate_member=Rate(2, 10))
    extensions = [*extension_modules(), "tests.doubles.widgets_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A], settings=settings,
                           extensions=extensions) as h:
        replies = [await h.command(GUILD_A, ADMIN, "widgets perms") for _ in range(3)]
        metrics = h.bot.ops.metrics
        ok = metrics.commands.labels("widgets perms", "ok")._value.get()
        refused = metrics.commands.labels("widgets perms", "user_error")._value.get()

    assert not replies[0].content.startswith("You are using commands")
    assert replies[2].content.startswith("You are using commands faster than the bot allows")
    assert (ok, refused) == (2, 1)
