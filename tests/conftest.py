from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import GUILD_A, GUILD_B


@pytest_asyncio.fixture(params=[1, 2, 64], ids=lambda n: f"max_open={n}")
async def manager(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GuildDatabaseManager]:
    """A manager over a fresh folder; max_open in (1, 2, 64) so eviction paths always run."""
    mgr = GuildDatabaseManager(tmp_path / "guild_dbs", max_open=request.param)
    try:
        yield mgr
    finally:
        await mgr.close_all()


@pytest.fixture
def thread_baseline() -> int:
    return threading.active_count()


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The real bot connected to the Discord double, in guilds A and B, files under tmp_path."""
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B]) as h:
        yield h
