"""The metrics fed by hikari's 429 handling, the retention purge and the event loop's timer."""
from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from prometheus_client import Histogram

from app.bot.app import extension_modules
from app.config import Settings
from app.sandbox.harness import running_bot
from tests.e2e import give_a_file

GUILD = 444_444_444_444_444_444
USER = 900_000_000_000_000_009


@pytest.mark.asyncio
@pytest.mark.parametrize(("scope", "label"), [("user", "user"), ("shared", "route"), ("global", "global")])
async def test_discord_429s_are_counted_by_scope(tmp_path: Path, scope: str, label: str) -> None:
    extensions = [*extension_modules(), "tests.doubles.widgets_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD], extensions=extensions) as h:
        h.double.rate_limits.force_429(retry_after=0.05, scope=scope)
        reply = await h.command(GUILD, USER, "widgets announce")
        counted = {s: h.bot.ops.metrics.discord_429.labels(s)._value.get() for s in ("user", "route", "global")}
    assert reply.content == "Posted 1."
    assert counted == {s: (1 if s == label else 0) for s in counted}


@pytest.mark.asyncio
async def test_retention_purges_are_counted_by_outcome(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), retention_days=0)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD], settings=settings) as h:
        await give_a_file(h, GUILD)
        await h.remove_bot_from_guild(GUILD)
        metrics = h.bot.ops.metrics
        async with asyncio.timeout(5):
            while not metrics.retention.labels("deleted")._value.get():
                await asyncio.sleep(0.01)
        rounds = metrics.upkeep_rounds._value.get()
    assert not (tmp_path / "guild_dbs" / f"{GUILD}.sqlite3").exists()
    assert rounds >= 1  # the round at start


@pytest.mark.asyncio
async def test_the_event_loop_lag_is_measured_while_the_bot_runs(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs") as h:
        lag = h.bot.ops.metrics.loop_lag
        async with asyncio.timeout(5):
            while not _count(lag):
                await asyncio.sleep(0.05)
        assert _count(lag) >= 1


def _count(histogram: Histogram) -> float:
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return float(sample.value)
    return 0.0
