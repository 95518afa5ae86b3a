"""The bot reads time through one injectable clock: advancing it runs the work that falls due."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from app.bot.clock import Clock
from app.db.registry import fetch_entry
from app.sandbox.harness import BotHarness, eventually
from tests.e2e import GUILD_B, give_a_file


@pytest.mark.asyncio
async def test_an_advance_wakes_a_sleeper_that_falls_due_and_not_one_that_does_not() -> None:
    clock = Clock()
    soon = asyncio.ensure_future(clock.sleep(3600))
    later = asyncio.ensure_future(clock.sleep(7200))
    await asyncio.sleep(0)
    clock.advance(timedelta(hours=1, seconds=1))
    await asyncio.wait_for(soon, 5)
    assert not later.done()
    later.cancel()


def _note(called: list[str], name: str) -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        called.append(name)
    return work


@pytest.mark.asyncio
async def test_a_timer_starts_its_work_once_when_due_by_an_advance_or_real_time_and_never_once_cancelled() -> None:
    clock, called = Clock(), list[str]()
    clock.call_later(3600, _note(called, "advanced"))
    clock.call_later(7200, _note(called, "not due"))
    clock.call_later(0.01, _note(called, "real time"))
    clock.call_later(0.01, _note(called, "cancelled")).cancel()
    clock.advance(timedelta(hours=1))
    clock.advance(timedelta(seconds=1))  # due already: not started again
    await asyncio.sleep(0.05)
    await clock.started_work()

    assert sorted(called) == ["advanced", "real time"]


@pytest.mark.asyncio
async def test_an_advance_starts_due_timers_in_order_and_one_failing_stops_none_of_the_others() -> None:
    clock, called, reported = Clock(), list[str](), list[BaseException]()
    asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context["exception"]))

    async def fails() -> None:
        raise ZeroDivisionError

    clock.call_later(1, fails)
    for i in reversed(range(20)):
        clock.call_later(1 + i / 100, _note(called, f"{i:02}"))
    clock.advance(timedelta(seconds=2))
    await clock.started_work()

    assert called == [f"{i:02}" for i in range(20)]
    assert [type(error) for error in reported] == [ZeroDivisionError]


@pytest.mark.asyncio
async def test_waiting_for_timer_work_gives_up_without_cancelling_it() -> None:
    clock, forever = Clock(), asyncio.Event()
    clock.call_later(1, forever.wait)
    clock.advance(timedelta(seconds=1))

    with pytest.raises(TimeoutError):
        await clock.started_work(timeout=0.05)
    assert clock._working and not any(task.done() for task in clock._working)
    forever.set()
    await clock.started_work()


@pytest.mark.asyncio
async def test_repeat_runs_each_round_that_falls_due_and_settle_waits_for_it() -> None:
    clock, rounds = Clock(), []

    async def work() -> None:
        await asyncio.sleep(0.01)
        rounds.append(clock.now())

    task = asyncio.ensure_future(clock.repeat(60, work))
    await asyncio.sleep(0)  # the first round starts
    await clock.settle()
    assert len(rounds) == 1
    clock.advance(timedelta(seconds=61))
    await clock.settle()
    assert len(rounds) == 2
    task.cancel()


@pytest.mark.asyncio
async def test_retention_purges_a_left_guild_once_the_clock_passes_its_retention(harness: BotHarness) -> None:
    await give_a_file(harness, GUILD_B)
    manager = harness.bot.manager
    await harness.remove_bot_from_guild(GUILD_B)

    async def left() -> bool:
        async with manager.connect_bot() as bot_db:
            entry = await fetch_entry(bot_db, GUILD_B)
        return entry is not None and entry.left_at is not None

    await eventually(left)
    await harness.advance(timedelta(days=29))
    assert manager.path_for(GUILD_B).is_file()
    await harness.advance(timedelta(days=2))
    assert not manager.path_for(GUILD_B).exists()
