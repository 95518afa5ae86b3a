"""Item 9: the server-deletion form is bound to the admin who opened it and to its server."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.doubles import Reply
from app.rights.receipts import list_receipts
from app.sandbox.harness import BotHarness, _modal_values, running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER
from tests.rights.conftest import populate

OTHER_ADMIN = 900_000_000_000_000_003


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B]) as h:
        for guild_id in (GUILD_A, GUILD_B):
            async with h.bot.manager.connect(guild_id) as db:
                await populate(db, members=(ADMIN, MEMBER), n=1)
        yield h


async def _open_form(h: BotHarness) -> tuple[Reply, str]:
    await h.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    modal = await h.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    assert modal.kind == "modal"
    return modal, h.double.ensure_guild(GUILD_A).name


async def _untouched(h: BotHarness) -> None:
    for guild_id in (GUILD_A, GUILD_B):
        async with h.bot.manager.connect(guild_id) as db:
            assert [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users ORDER BY 1")] \
                == [ADMIN, MEMBER]
    async with h.bot.manager.connect_bot() as bot_db:
        assert await list_receipts(bot_db) == []


@pytest.mark.asyncio
async def test_a_form_submitted_from_another_server_deletes_nothing(bot: BotHarness) -> None:
    modal, name = await _open_form(bot)
    # the admin, demoted in A, replays A's form from B where they still are an admin
    record = await bot.double.submit_modal(modal, _modal_values(modal, {"Server name": name}),
                                           guild_id=GUILD_B, user_id=ADMIN, admin=True)
    reply = await bot.answer(record)
    assert reply.content == "This form belongs to another server or member: nothing was deleted."
    await _untouched(bot)


@pytest.mark.asyncio
async def test_a_form_submitted_by_another_admin_deletes_nothing(bot: BotHarness) -> None:
    modal, name = await _open_form(bot)
    record = await bot.double.submit_modal(modal, _modal_values(modal, {"Server name": name}),
                                           guild_id=GUILD_A, user_id=OTHER_ADMIN, admin=True)
    reply = await bot.answer(record)
    assert reply.content == "This form belongs to another server or member: nothing was deleted."
    await _untouched(bot)
