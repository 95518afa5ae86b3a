from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from app.sandbox.harness import BotHarness, running_bot

GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222
ADMIN = 900_000_000_000_000_001
MEMBER = 900_000_000_000_000_002


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The real bot connected to the Discord double, in guilds A and B, files under tmp_path."""
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B]) as h:
        yield h
