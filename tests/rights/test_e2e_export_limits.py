"""Item 10: export cooldowns hold under concurrency, members have one too, and the size is checked first."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.extensions import data_rights
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A, MEMBER
from tests.rights.conftest import populate


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        async with h.bot.manager.connect(GUILD_A) as db:
            await populate(db, members=(ADMIN, MEMBER), n=2)
        yield h


async def _final(h: BotHarness, record: object) -> str:
    async with asyncio.timeout(10):
        while True:
            replies = await h.settle(record)  # type: ignore[arg-type]
            if replies and replies[-1].kind != "deferred":
                return "attachment" if replies[-1].attachments else replies[-1].content


@pytest.mark.asyncio
async def test_concurrent_server_exports_run_once(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = data_rights.export_packed

    async def counted(db, *, max_bytes):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # a large file: the others arrive while it is copied
        return await real(db, max_bytes=max_bytes)

    monkeypatch.setattr(data_rights, "export_packed", counted)
    # five: the member's command budget (RATE_MEMBER, 5 per 10 s) would answer a sixth before the cooldown
    records = [await bot.send(GUILD_A, ADMIN, "server-data export", admin=True) for _ in range(5)]
    answers = [await _final(bot, r) for r in records]
    assert calls == 1
    assert answers.count("attachment") == 1
    assert sum("try again in 1 minute" in a for a in answers) == 4


@pytest.mark.asyncio
async def test_a_failed_export_does_not_hold_the_cooldown(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(db, *, max_bytes):
        raise OSError("disk full")

    monkeypatch.setattr(data_rights, "export_packed", broken)
    first = await _final(bot, await bot.send(GUILD_A, ADMIN, "server-data export", admin=True))
    assert first.startswith("Something went wrong on our side")
    monkeypatch.undo()
    assert await _final(bot, await bot.send(GUILD_A, ADMIN, "server-data export", admin=True)) == "attachment"


@pytest.mark.asyncio
async def test_member_export_has_a_cooldown(bot: BotHarness) -> None:
    first = await bot.command(GUILD_A, MEMBER, "my-data export")
    assert first.attachments
    again = await bot.command(GUILD_A, MEMBER, "my-data export")
    assert again.attachments == [] and "try again in 1 minute" in again.content
    other = await bot.command(GUILD_A, ADMIN, "my-data export")  # another member is not held back
    assert other.attachments


@pytest.mark.asyncio
async def test_a_file_far_over_the_limit_is_not_copied(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def must_not_run(db, *, max_bytes):
        raise AssertionError("the file was copied")

    monkeypatch.setattr(data_rights, "export_packed", must_not_run)
    monkeypatch.setattr(data_rights, "EXPORT_MAX_RATIO", 0)
    reply = await _final(bot, await bot.send(GUILD_A, ADMIN, "server-data export", admin=True))
    assert f"python -m app guild export {GUILD_A} --out FILE" in reply
