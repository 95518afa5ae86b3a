from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.native import WAL_CHECKPOINT_BYTES, close_connection, skip_checkpoint_on_close


def _wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _wal_db(tmp_path: Path) -> tuple[sqlite3.Connection, Path]:
    path = tmp_path / "t.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x BLOB)")
    return conn, path


def test_without_checkpoint_on_close_the_wal_stays_and_its_data_is_read_back(tmp_path: Path) -> None:
    conn, path = _wal_db(tmp_path)
    if not skip_checkpoint_on_close(conn):
        conn.close()
        pytest.skip("this Python/SQLite build cannot switch off the checkpoint on close")
    conn.execute("INSERT INTO t VALUES (x'01')")
    close_connection(conn, path)
    kept = _wal_size(path)
    reopened = sqlite3.connect(path)
    rows = reopened.execute("SELECT count(*) FROM t").fetchone()[0]
    reopened.close()
    assert kept > 0
    assert rows == 1


def test_a_wal_past_the_bound_is_checkpointed_on_close(tmp_path: Path) -> None:
    conn, path = _wal_db(tmp_path)
    skip_checkpoint_on_close(conn)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("INSERT INTO t VALUES (?)", (os.urandom(WAL_CHECKPOINT_BYTES + 4096),))
    grown = _wal_size(path)
    close_connection(conn, path)
    reopened = sqlite3.connect(path)
    size = reopened.execute("SELECT length(x) FROM t").fetchone()[0]
    reopened.close()
    assert grown > WAL_CHECKPOINT_BYTES
    assert _wal_size(path) == 0
    assert size == WAL_CHECKPOINT_BYTES + 4096


@pytest.mark.asyncio
async def test_close_all_checkpoints_every_file(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=1)
    for guild_id in (1, 2, 3):
        async with manager.connect(guild_id) as db:
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, ?)", (guild_id,))
    await manager.close_all()
    sizes = {p.name: _wal_size(p) for p in sorted(tmp_path.glob("*.sqlite3"))}
    assert sizes["3.sqlite3"] == 0  # the one still open at shutdown
    assert all(size <= WAL_CHECKPOINT_BYTES for size in sizes.values())
