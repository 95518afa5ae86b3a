"""Regressions found reviewing the storage hardening: each test failed on the reviewed code."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from app.db import GUILD_SCHEMA, Database, GuildDatabaseManager, checkpoint, connection, files
from app.db.fleet import schema_version_of
from app.db.worker import Worker
from app.errors import DatabaseBusyError
from tests.db.helpers import build_guild_file, build_v1_file

INSERT_XP = "INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)"


async def _rows(manager: GuildDatabaseManager, guild_id: int) -> set[int]:
    async with manager.connect(guild_id) as db:
        return {r[0] for r in await db.execute_fetchall("SELECT discord_id FROM user_xp")}


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another program's connection holding the file's write lock (ROLLBACK and close it to free it)."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _free(holder: sqlite3.Connection) -> None:
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.asyncio
async def test_a_retried_autocommit_write_never_joins_another_tasks_transaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "BUSY_MAX_WAIT", 0.5)  # the lone writer's retries spread out
    build_guild_file(tmp_path, 1)  # another program takes its lock: it must exist
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        await db.execute("SELECT 1")
        holder = _hold_write_lock(manager.path_for(1))
        lone = asyncio.create_task(db.execute_fetchall(INSERT_XP, (1, 1)))  # busy: retried from the loop
        await asyncio.sleep(0.3)

        async def doomed() -> None:
            async with db.transaction():
                await db.execute(INSERT_XP, (2, 1))
                await asyncio.wait({lone}, timeout=1.0)
                raise RuntimeError("rolled back")

        rolled_back = asyncio.create_task(doomed())
        await asyncio.sleep(0.01)  # its BEGIN is being retried too
        _free(holder)
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(rolled_back, 10)
        await asyncio.wait_for(lone, 10)  # acknowledged: it must be on disk
        assert await _rows(manager, 1) == {1}


@pytest.mark.asyncio
async def test_a_task_spawned_in_a_transaction_can_open_its_own_once_it_ended(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        parent_done = asyncio.Event()

        async def child() -> None:
            await parent_done.wait()
            async with db.transaction():
                await db.execute(INSERT_XP, (2, 1))

        async with db.transaction():
            await db.execute(INSERT_XP, (1, 1))
            spawned = asyncio.create_task(child())  # inherits the transaction marker
        parent_done.set()
        await asyncio.wait_for(spawned, 5)
        assert await _rows(manager, 1) == {1, 2}


@pytest.mark.asyncio
async def test_executemany_interrupted_by_another_writer_is_applied_once(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        await db.execute("SELECT 1")
        other = sqlite3.connect(manager.path_for(1), isolation_level=None, check_same_thread=False, timeout=0)
        taken = threading.Event()
        inserts = 0

        def trace(sql: str) -> None:  # runs as each row's INSERT starts, before it takes the write lock
            nonlocal inserts
            if sql.startswith("INSERT"):
                inserts += 1
                if inserts == 3:
                    try:
                        other.execute("BEGIN IMMEDIATE")  # another program writes between two rows
                    except sqlite3.OperationalError:
                        return  # the rows are one transaction: nobody gets in between
                    taken.set()
                    threading.Timer(0.05, other.execute, ("ROLLBACK",)).start()

        await db.run(lambda conn: conn.set_trace_callback(trace))
        try:
            await db.executemany(INSERT_XP, [(i, 1) for i in range(10)])
        finally:
            await db.run(lambda conn: conn.set_trace_callback(None))
            while taken.is_set() and other.in_transaction:
                await asyncio.sleep(0.01)
            other.close()
        assert await _rows(manager, 1) == set(range(10))


@pytest.mark.asyncio
async def test_run_outside_a_transaction_waits_for_a_lock_like_a_statement(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        await db.execute("SELECT 1")
        holder = _hold_write_lock(manager.path_for(1))
        threading.Timer(0.1, _free, (holder,)).start()
        inserted = await db.run(lambda conn: conn.execute(INSERT_XP, (1, 1)).rowcount)
        assert inserted == 1
        assert await _rows(manager, 1) == {1}


@pytest.mark.asyncio
async def test_concurrent_close_all_calls_both_return(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=4)
    async with manager.connect(1) as db:
        await db.execute(INSERT_XP, (1, 1))
    async with manager.connect_bot() as bot_db:
        await bot_db.execute("SELECT 1")
    # the bot's stop() and its StoppedEvent listener may both close the manager
    await asyncio.wait_for(asyncio.gather(manager.close_all(), manager.close_all()), 10)
    await asyncio.wait_for(manager.close_all(), 10)
    assert not [t for t in threading.enumerate() if t.name.startswith("guildshelf-")]


@pytest.mark.asyncio
async def test_close_all_during_the_first_bot_wide_open_leaves_no_thread_behind(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=4)
    used = []

    async def user() -> None:
        async with manager.connect_bot() as bot_db:
            used.append(await bot_db.execute_fetchone("SELECT 1"))

    task = asyncio.create_task(user())
    await asyncio.sleep(0)  # the bot-wide file is being opened
    await asyncio.wait_for(manager.close_all(), 10)
    await asyncio.wait({task}, timeout=10)
    assert task.done()
    assert used or task.exception() is not None
    assert not [t for t in threading.enumerate() if t.name.startswith("guildshelf-")]


def test_the_shutdown_checkpoint_never_creates_a_file_deleted_meanwhile(tmp_path: Path) -> None:
    gone = tmp_path / "5.sqlite3"  # listed with its -wal, then deleted (a guild erased from the CLI)
    with pytest.raises(sqlite3.OperationalError):
        checkpoint.checkpoint_file(gone)
    assert not gone.exists()


@pytest.mark.asyncio
async def test_an_open_waiting_for_another_programs_lock_never_delays_other_opens(tmp_path: Path) -> None:
    holders = []
    for guild_id in (1, 2):  # files needing a migration, each write-locked by another program
        holder = sqlite3.connect(build_v1_file(tmp_path, guild_id), isolation_level=None,
                                 check_same_thread=False)
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("BEGIN IMMEDIATE")
        holders.append(holder)
    try:
        async with GuildDatabaseManager(tmp_path, max_open=8) as manager:

            async def touch(guild_id: int) -> None:
                async with manager.connect(guild_id) as db:
                    await db.execute("SELECT 1")

            waiting = [asyncio.create_task(touch(g)) for g in (1, 2)]  # as many as open threads
            await asyncio.sleep(0.05)
            await asyncio.wait_for(touch(3), 3)  # 5 s before: both threads slept in the busy handler
            assert not any(task.done() for task in waiting)
            for holder in holders:
                holder.execute("ROLLBACK")
            await asyncio.wait_for(asyncio.gather(*waiting), 10)
    finally:
        for holder in holders:
            holder.close()
    assert schema_version_of(tmp_path / "1.sqlite3") == GUILD_SCHEMA.version


@pytest.mark.asyncio
@pytest.mark.parametrize("inner", ["transaction", "statement"])
async def test_a_guild_and_a_bot_wide_transaction_taken_in_opposite_orders_never_hang(
        tmp_path: Path, inner: str) -> None:
    options = files.OpenOptions(busy_timeout_ms=200)
    async with GuildDatabaseManager(tmp_path, max_open=8, options=options) as manager, \
            manager.connect(1) as db, manager.connect_bot() as bot_db:
        both_in = asyncio.Barrier(2)

        async def first_then(outer: Database, other: Database, sql: str) -> None:
            async with outer.transaction():
                await outer.execute("SELECT 1")
                await both_in.wait()
                if inner == "transaction":
                    async with other.transaction():
                        await other.execute(sql)
                else:
                    await other.execute(sql)

        results = await asyncio.wait_for(asyncio.gather(
            first_then(db, bot_db, "INSERT INTO guild_registry (guild_id, name) VALUES (1, 'a')"),
            first_then(bot_db, db, "INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)"),
            return_exceptions=True), 10)
        assert [type(r) for r in results].count(DatabaseBusyError) >= 1
        assert await db.run(lambda conn: not conn.in_transaction)


@pytest.mark.asyncio
async def test_a_worker_stopped_twice_at_once_stops_once() -> None:
    worker = Worker("guildshelf-review")
    await asyncio.wait_for(asyncio.gather(worker.stop(), worker.stop()), 5)
    assert not worker._thread.is_alive()
