"""GUILD_DELETE as Discord sends it: an outage (`unavailable: true`) is not a removal."""
from __future__ import annotations

import pytest

from app.db.registry import fetch_entry
from app.sandbox.harness import BotHarness, eventually
from tests.e2e import GUILD_A, give_a_file


async def _left_at(h: BotHarness, guild_id: int) -> str | None:
    async with h.bot.manager.connect_bot() as bot_db:
        entry = await fetch_entry(bot_db, guild_id)
    assert entry is not None
    return entry.left_at


@pytest.mark.asyncio
async def test_an_outage_does_not_start_the_retention_clock(harness: BotHarness) -> None:
    await give_a_file(harness, GUILD_A)

    async def recorded() -> bool:
        async with harness.bot.manager.connect_bot() as bot_db:
            return await fetch_entry(bot_db, GUILD_A) is not None

    await eventually(recorded)
    await harness.outage(GUILD_A)
    await harness.recover(GUILD_A)
    assert await _left_at(harness, GUILD_A) is None
    assert harness.bot.manager.path_for(GUILD_A).is_file()

    await harness.remove_bot_from_guild(GUILD_A)

    async def left() -> bool:
        return await _left_at(harness, GUILD_A) is not None

    await eventually(left)
