from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager


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
