"""The bot's own queries: heavy ones never hold the shared SQL thread."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from app.bot import queries
from app.db import GuildDatabaseManager


@pytest.mark.asyncio
async def test_counting_a_large_file_never_delays_another_server(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    counting, release = threading.Event(), threading.Event()
    real_counts = queries.table_counts

    def slow_counts(conn: sqlite3.Connection) -> dict[str, int]:
        counting.set()
        release.wait(10)  # a file with millions of rows
        return real_counts(conn)

    monkeypatch.setattr(queries, "table_counts", slow_counts)
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (5, 1)")
        report = asyncio.create_task(queries.fetch_guild_report(db))
        while not counting.is_set():
            await asyncio.sleep(0.001)
        try:
            async with manager.connect(2) as other:
                row = await asyncio.wait_for(other.execute_fetchone("SELECT 1"), 3)
        finally:
            release.set()
        done = await asyncio.wait_for(report, 10)
    assert row is not None and row[0] == 1
    assert done.tables["user_xp"] == 1 and done.schema_version >= 2
