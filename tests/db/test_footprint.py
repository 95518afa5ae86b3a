"""Bytes on disk: small pages for guild files, no side files left by idle guilds."""
from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.convert import convert_file
from app.db.files import SIDE_FILES, OpenOptions, build_file
from app.db.ids import guild_file_name
from app.db.schema import GUILD_SCHEMA
from tests.db.helpers import build_guild_file

SMALL_GUILD_BUDGET = 64 * 1024


def _bytes_on_disk(path: Path) -> int:
    """The file and its side files, in allocated blocks (what `du` counts)."""
    total = 0
    for candidate in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        if candidate.exists():
            total += candidate.stat().st_blocks * 512
    return total


def _side_files(path: Path) -> list[str]:
    return [s for s in SIDE_FILES if path.with_name(path.name + s).exists()]


@pytest.mark.asyncio
async def test_a_new_guild_file_has_1_kib_pages(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        assert (await db.execute_fetchall("PRAGMA page_size"))[0][0] == 1024


@pytest.mark.asyncio
async def test_a_guild_only_read_costs_0_bytes(tmp_path: Path) -> None:
    lazy = OpenOptions(lazy_files=True)  # GUILD_FILE_CREATION=first-write
    async with GuildDatabaseManager(tmp_path, max_open=1, options=lazy) as manager:
        for guild_id in (1, 2, 1):
            async with manager.connect(guild_id) as db:
                await db.execute_fetchall("SELECT count(*) FROM user_xp")
                await db.run(lambda conn: conn.execute("SELECT * FROM guild_meta").fetchall())
        assert list(tmp_path.iterdir()) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.asyncio
async def test_a_guild_file_only_read_leaves_no_side_files_once_evicted(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)
    async with GuildDatabaseManager(tmp_path, max_open=1, options=OpenOptions(remove_side_files=True)) as manager:
        async with manager.connect(1) as db:
            await db.execute_fetchall("SELECT count(*) FROM user_xp")
        path = manager.path_for(1)
        assert _side_files(path) == ["-wal", "-shm"]  # open: SQLite's WAL index
        async with manager.connect(2):  # evicts guild 1
            pass
        await manager.evict(2)
        async with manager.exclusive(1):  # every connection of guild 1 closed
            assert _side_files(path) == []
            assert _bytes_on_disk(path) <= SMALL_GUILD_BUDGET


@pytest.mark.asyncio
async def test_a_guild_with_100_rows_costs_at_most_64_kib_after_close_all(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db, db.transaction():
        for member in range(100):
            await db.execute("INSERT INTO user_xp (discord_id, xp, level) VALUES (?, ?, ?)",
                             (10**17 + member, member * 7, member // 10))
    path = manager.path_for(1)
    assert _side_files(path) == []
    assert _bytes_on_disk(path) <= SMALL_GUILD_BUDGET
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM user_xp").fetchone()[0] == 100
    conn.close()


@pytest.mark.asyncio
async def test_a_read_only_close_leaves_another_connections_side_files(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)
    async with GuildDatabaseManager(tmp_path, max_open=1, options=OpenOptions(remove_side_files=True)) as manager:
        async with manager.connect(1) as db:
            await db.execute("SELECT 1")
        other = sqlite3.connect(manager.path_for(1), isolation_level=None)  # another program reading it
        other.execute("SELECT count(*) FROM user_xp").fetchone()
        try:
            await manager.evict(1)
            async with manager.exclusive(1):
                assert _side_files(manager.path_for(1)) == ["-wal", "-shm"]
            assert other.execute("SELECT count(*) FROM user_xp").fetchone()[0] == 0
        finally:
            other.close()


@pytest.mark.asyncio
async def test_a_file_with_4_kib_pages_is_converted_and_keeps_its_rows(tmp_path: Path) -> None:
    old_schema = dataclasses.replace(GUILD_SCHEMA, page_size=4096)
    path = tmp_path / guild_file_name(5)
    build_file(path, old_schema, 5)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, 1)", [(m,) for m in range(50)])
    holder = sqlite3.connect(path)  # another connection: the file is not ours alone
    holder.execute("SELECT 1 FROM user_xp").fetchone()
    assert convert_file(path, GUILD_SCHEMA, identity=5).outcome == "busy"
    holder.close()
    conn.close()
    before = _bytes_on_disk(path)
    assert convert_file(path, GUILD_SCHEMA, identity=5).outcome == "converted"
    assert convert_file(path, GUILD_SCHEMA, identity=5).outcome == "current"  # done already
    assert _bytes_on_disk(path) < before
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(5) as db:
        assert (await db.execute_fetchall("SELECT count(*) FROM user_xp"))[0][0] == 50
        assert (await db.execute_fetchall("PRAGMA page_size"))[0][0] == 1024
        assert (await db.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"


@pytest.mark.asyncio
async def test_the_quota_counts_bytes_whatever_the_files_page_size(tmp_path: Path) -> None:
    build_file(tmp_path / guild_file_name(6), dataclasses.replace(GUILD_SCHEMA, page_size=4096), 6)
    options = OpenOptions(max_page_count=1024)  # pages of the template's size: 1 MiB
    async with GuildDatabaseManager(tmp_path, max_open=4, options=options) as manager:
        async with manager.connect(6) as old:
            assert (await old.execute_fetchall("PRAGMA max_page_count"))[0][0] == 256
        async with manager.connect(7) as new:
            assert (await new.execute_fetchall("PRAGMA max_page_count"))[0][0] == 1024


@pytest.mark.asyncio
async def test_by_default_an_evicted_guild_keeps_its_side_files_until_close_all_drops_them(tmp_path: Path) -> None:
    # Creating them again at the next open halved churn throughput: they go at shutdown.
    for guild_id in (1, 2):
        build_guild_file(tmp_path, guild_id)
    manager = GuildDatabaseManager(tmp_path, max_open=1)
    async with manager.connect(1) as db:
        await db.execute_fetchall("SELECT count(*) FROM user_xp")
    await manager.evict(1)
    async with manager.exclusive(1):
        assert _side_files(manager.path_for(1)) == ["-wal", "-shm"]
    async with manager.connect(2) as db:  # open at shutdown
        await db.execute_fetchall("SELECT count(*) FROM user_xp")
    await manager.close_all()
    assert _side_files(manager.path_for(1)) == []  # closed before, its -wal empty: dropped at shutdown
    assert _side_files(manager.path_for(2)) == []
    assert _bytes_on_disk(manager.path_for(1)) <= SMALL_GUILD_BUDGET
