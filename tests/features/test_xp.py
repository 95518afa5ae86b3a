"""XP: the level formula, the in-memory cooldown, and messages through the real bot on the Discord double."""
from __future__ import annotations

import functools
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import hikari
import pytest

from app.bot.clock import Clock
from app.config import Settings, load_settings
from app.db import GuildDatabaseManager
from app.extensions.xp import XpService
from app.features.guild_settings import GuildSettings, update_guild_settings
from app.features.xp import LevelUp, add_xp, fetch_xp, level_for_xp, progress_for, xp_for_level
from app.features.xp_recorder import XpRecorder
from app.sandbox.harness import BotHarness, eventually, running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER

# -- the level formula --------------------------------------------------------


def test_level_thresholds_follow_the_documented_formula() -> None:
    assert [xp_for_level(level) for level in range(5)] == [0, 100, 300, 600, 1000]
    assert [level_for_xp(xp) for xp in (0, 99, 100, 299, 300, 599, 600, 999, 1000)] == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    assert level_for_xp(-5) == 0
    with pytest.raises(ValueError):
        xp_for_level(-1)


def test_level_is_exact_at_every_threshold_even_for_huge_xp() -> None:
    for level in (*range(0, 2000), 10**6, 10**9):
        threshold = xp_for_level(level)
        assert level_for_xp(threshold) == level
        assert level_for_xp(threshold - 1) == max(level - 1, 0) if level else True


def test_progress_to_the_next_level() -> None:
    progress = progress_for(350)
    assert (progress.level, progress.into_level, progress.level_span, progress.to_next) == (2, 50, 300, 250)


def test_xp_cooldown_setting_is_read_and_bounded() -> None:
    assert load_settings({}).xp_cooldown_seconds == 60
    assert load_settings({"XP_COOLDOWN_SECONDS": "0"}).xp_cooldown_seconds == 0
    with pytest.raises(Exception, match="XP_COOLDOWN_SECONDS must be"):
        load_settings({"XP_COOLDOWN_SECONDS": "-1"})


# -- the recorder (memory only) -------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _count(recorder: XpRecorder, guild_id: int, user_id: int, *, channel_id: int = 5, event_time: float = 0.0,
           source: object = None) -> bool:
    return recorder.count(guild_id, user_id, channel_id=channel_id, event_time=event_time, source=source)


def test_cooldown_counts_one_message_per_member_per_period() -> None:
    clock = FakeClock()
    recorder = XpRecorder(60, clock=clock)
    assert _count(recorder, 1, 7)
    assert not _count(recorder, 1, 7)
    assert _count(recorder, 1, 8) and _count(recorder, 2, 7)  # other member, other server
    clock.now += 59.9
    assert not _count(recorder, 1, 7)
    clock.now += 0.1
    assert _count(recorder, 1, 7, channel_id=6)

    taken, _ = recorder.take()
    assert taken[1].gains == {7: 2, 8: 1} and taken[1].channels == {7: 6, 8: 5} and recorder.pending == {}


def test_a_servers_own_cooldown_applies_once_known() -> None:
    clock = FakeClock()
    recorder = XpRecorder(60, clock=clock)
    recorder.remember_config(1, GuildSettings(xp_amount=3, xp_cooldown_seconds=5))
    assert _count(recorder, 1, 7) and _count(recorder, 2, 7)
    clock.now += 5
    assert _count(recorder, 1, 7)
    assert not _count(recorder, 2, 7)  # server 2 keeps the default 60 s
    recorder.remember_config(1, GuildSettings(xp_cooldown_seconds=0))
    assert _count(recorder, 1, 7)
    assert recorder.take()[0][1].gains == {7: 3}


def test_a_failed_write_is_given_back_in_front_of_newer_gains() -> None:
    recorder = XpRecorder(0)
    _count(recorder, 1, 7, event_time=1.0, source="old")
    taken, taken_at = recorder.take()
    failed = taken[1]
    _count(recorder, 1, 7, channel_id=6, event_time=2.0, source="new")
    recorder.give_back(1, failed, taken_at)
    pending = recorder.pending[1]
    assert pending.gains == {7: 2} and pending.channels == {7: 6} and pending.source == "new"
    assert pending.attempts == 1 and pending.event_times == [1.0, 2.0]


def test_an_erased_member_loses_pending_and_in_flight_gains() -> None:
    recorder = XpRecorder(0)
    _count(recorder, 1, 7)
    _count(recorder, 1, 8)
    taken, taken_at = recorder.take()  # a write under way
    _count(recorder, 1, 7)  # and a newer gain still pending
    recorder.forget(1, 7)
    assert 7 not in recorder.pending[1].gains
    in_flight = taken[1]
    assert recorder.still_wanted(1, in_flight, taken_at) and in_flight.gains == {8: 1}
    recorder.give_back(1, in_flight, taken_at)  # a failed write never brings the erased member back
    assert recorder.pending[1].gains == {8: 1}


def test_a_deleted_server_loses_every_pending_and_in_flight_gain() -> None:
    recorder = XpRecorder(0)
    _count(recorder, 1, 7)
    _count(recorder, 2, 7)
    taken, taken_at = recorder.take()
    _count(recorder, 1, 8)
    recorder.forget(1)
    assert 1 not in recorder.pending
    assert not recorder.still_wanted(1, taken[1], taken_at)
    assert recorder.still_wanted(2, taken[2], taken_at)  # another server's gains are kept
    recorder.give_back(1, taken[1], taken_at)
    assert 1 not in recorder.pending


def test_expired_cooldowns_are_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.features.xp_recorder.PRUNE_FLOOR", 3)
    clock = FakeClock()
    recorder = XpRecorder(60, clock=clock)
    recorder._prune_at = 3
    _count(recorder, 1, 1)
    _count(recorder, 1, 2)
    clock.now += 61
    _count(recorder, 1, 3)
    assert set(recorder._last) == {(1, 3)}


# -- the database side -----------------------------------------------------------


@pytest.mark.asyncio
async def test_add_xp_sums_and_reports_level_ups_once(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        assert await add_xp(db, [(MEMBER, 60), (ADMIN, 10)]) == []
        ups = await add_xp(db, [(MEMBER, 60)])
        assert [(u.user_id, u.level) for u in ups] == [(MEMBER, 1)]
        assert await add_xp(db, [(MEMBER, 1)]) == []
        assert (await fetch_xp(db, MEMBER)).xp == 121
        row = await db.execute_fetchone("SELECT level, last_gain_at FROM user_xp WHERE discord_id = ?", (MEMBER,))
        assert row is not None and row[0] == 1 and row[1].endswith("Z")
        assert (await fetch_xp(db, 12345)).xp == 0


# -- through the bot ---------------------------------------------------------------


async def xp_service(harness: BotHarness) -> XpService:
    container = harness.bot.client.di.default_container
    assert container is not None
    return await container.get(XpService)


async def _xp(harness: BotHarness, guild_id: int, user_id: int) -> int:
    async with harness.bot.manager.connect(guild_id) as db:
        return (await fetch_xp(db, user_id)).xp


@pytest.mark.asyncio
async def test_a_message_earns_xp_once_per_cooldown_without_touching_the_database(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.say(GUILD_A, MEMBER, "hello")

    async def written() -> bool:
        return await _xp(harness, GUILD_A, MEMBER) == 15

    await eventually(written)
    opened: list[int] = []
    manager = harness.bot.manager
    real_connect = manager.connect

    def counting_connect(guild_id: int) -> Any:
        opened.append(guild_id)
        return real_connect(guild_id)

    monkeypatch.setattr(manager, "connect", counting_connect)
    for text in ("again", "and again", "x" * 2000):
        await harness.say(GUILD_A, MEMBER, text)
    service = await xp_service(harness)

    async def all_seen() -> bool:
        return service.figures.messages == 4

    await eventually(all_seen)
    monkeypatch.undo()

    assert opened == []
    assert await _xp(harness, GUILD_A, MEMBER) == 15


@pytest.mark.asyncio
async def test_xp_in_one_server_never_appears_in_another(tmp_path: Path) -> None:
    settings = Settings(xp_cooldown_seconds=0)
    async with running_bot(tmp_path / "dbs", guilds=[GUILD_A, GUILD_B], settings=settings) as harness:
        for _ in range(3):
            await harness.say(GUILD_A, MEMBER, "in A")
        await harness.say(GUILD_B, ADMIN, "in B")

        async def written() -> bool:
            return (await _xp(harness, GUILD_A, MEMBER), await _xp(harness, GUILD_B, ADMIN)) == (45, 15)

        await eventually(written)
        assert await _xp(harness, GUILD_B, MEMBER) == 0
        assert await _xp(harness, GUILD_A, ADMIN) == 0


@pytest.mark.asyncio
async def test_the_servers_xp_amount_is_used_and_pending_xp_is_committed_at_shutdown(tmp_path: Path) -> None:
    root = tmp_path / "dbs"
    settings = Settings(xp_cooldown_seconds=0)
    async with running_bot(root, guilds=[GUILD_A], settings=settings) as harness:
        async with harness.bot.manager.connect(GUILD_A) as db:
            await update_guild_settings(db, {"xp_amount": 40}, user_id=ADMIN)
        for _ in range(5):
            await harness.say(GUILD_A, MEMBER, "hi")
    manager = GuildDatabaseManager(root)
    try:
        async with manager.connect(GUILD_A) as db:
            assert (await fetch_xp(db, MEMBER)).xp == 200
    finally:
        await manager.close_all()


# -- level-up announcements (the service, with a recording REST client) -----------


class FakeRest:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[int, str]] = []
        self.error = error

    async def create_message(self, channel_id: int, content: str, **_: object) -> None:  # hikari's signature
        if self.error is not None:
            raise self.error
        self.sent.append((channel_id, content))


def _service(tmp_path: Path, rest: FakeRest) -> XpService:
    service = XpService(Settings(), None, Clock())  # type: ignore[arg-type]  # announcing opens no database
    service._rest = rest  # type: ignore[assignment]
    return service


@pytest.mark.asyncio
async def test_level_ups_go_to_the_announcement_channel_else_where_the_member_wrote(tmp_path: Path) -> None:
    rest = FakeRest()
    service = _service(tmp_path, rest)
    ups = [LevelUp(MEMBER, 2), LevelUp(ADMIN, 1)]
    await service._announce(GUILD_A, GuildSettings(levelup_announcements=True), ups, {MEMBER: 11, ADMIN: 12})
    await service._announce(GUILD_A, GuildSettings(announce_channel_id=99), [LevelUp(MEMBER, 3)], {MEMBER: 11})
    assert rest.sent == [(11, f"<@{MEMBER}> reached level 2!"), (12, f"<@{ADMIN}> reached level 1!"),
                         (99, f"<@{MEMBER}> reached level 3!")]


@pytest.mark.asyncio
async def test_an_announcement_channel_that_refuses_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.bot.announce._warned", set())
    forbidden = hikari.ForbiddenError("http://127.0.0.1/channels/99/messages", {}, b"", "Missing Access", 50001)
    service = _service(tmp_path, FakeRest(forbidden))
    with caplog.at_level(logging.WARNING, logger="app.bot.announce"):
        for _ in range(3):
            await service._announce(GUILD_A, GuildSettings(announce_channel_id=99), [LevelUp(MEMBER, 3)], {})
    assert len([r for r in caplog.records if "cannot post in channel 99" in r.getMessage()]) == 1


# -- level-ups and the clock through the bot ------------------------------------------


@pytest.mark.asyncio
async def test_a_level_up_is_announced_where_the_member_wrote_when_turned_on(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await update_guild_settings(db, {"xp_amount": 100}, user_id=ADMIN)
    await harness.say(GUILD_A, MEMBER, "quiet level-up")
    await eventually(lambda: _xp_is(harness, GUILD_A, MEMBER, 100))
    assert harness.double.channel_posts == []  # announcements are off by default

    await harness.command(GUILD_A, ADMIN, "settings", {"levelup_announcements": "true"}, admin=True)
    for xp in (200, 300):
        await harness.advance(timedelta(seconds=60))
        await harness.say(GUILD_A, MEMBER, "loud level-up")
        await eventually(functools.partial(_xp_is, harness, GUILD_A, MEMBER, xp))

    async def announced() -> bool:
        return [p.content for p in harness.double.channel_posts] == [f"<@{MEMBER}> reached level 2!"]

    await eventually(announced)
    assert harness.double.channel_posts[0].channel_id == harness.double.ensure_guild(GUILD_A).channel_id


@pytest.mark.asyncio
async def test_the_cooldown_ends_when_the_bots_clock_moves_on(harness: BotHarness) -> None:
    await harness.say(GUILD_A, MEMBER, "one")
    await eventually(lambda: _xp_is(harness, GUILD_A, MEMBER, 15))
    await harness.advance(timedelta(seconds=59))
    await harness.say(GUILD_A, MEMBER, "too soon")
    await harness.advance(timedelta(seconds=1))
    await harness.say(GUILD_A, MEMBER, "now")
    await eventually(lambda: _xp_is(harness, GUILD_A, MEMBER, 30))
    service = await xp_service(harness)
    assert service.figures.messages == 3


@pytest.mark.asyncio
async def test_a_channel_the_bot_cannot_post_in_costs_no_xp_and_is_logged_once(
        harness: BotHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.bot.announce._warned", set())
    async with harness.bot.manager.connect(GUILD_A) as db:
        await update_guild_settings(db, {"xp_amount": 1000, "xp_cooldown_seconds": 0,
                                         "levelup_announcements": True}, user_id=ADMIN)
    await harness.set_overwrite(GUILD_A, GUILD_A, deny=hikari.Permissions.SEND_MESSAGES)  # @everyone, bot too
    with caplog.at_level(logging.WARNING, logger="app.bot.announce"):
        for total in (1000, 2000, 3000):
            await harness.say(GUILD_A, MEMBER, "up")
            await eventually(functools.partial(_xp_is, harness, GUILD_A, MEMBER, total))
        await eventually(lambda: _logged(caplog))
    assert harness.double.channel_posts == []
    assert len([r for r in caplog.records if "cannot post in channel" in r.getMessage()]) == 1


async def _logged(caplog: pytest.LogCaptureFixture) -> bool:
    return any("cannot post in channel" in r.getMessage() for r in caplog.records)


async def _xp_is(harness: BotHarness, guild_id: int, user_id: int, value: int) -> bool:
    return await _xp(harness, guild_id, user_id) == value
