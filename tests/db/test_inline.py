"""Statements run inline on the event loop's thread when that is safe and short, else on the worker."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from app.db import GuildDatabaseManager, connection, files
from app.db.connection import GuildDb
from app.errors import DatabaseBusyError
from tests.db.helpers import build_guild_file

INSERT_XP = "INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)"
READ_XP = "SELECT xp FROM user_xp WHERE discord_id = ?"
# ~10 VM steps a row: far past a budget of 200 steps
MANY_ROWS = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) "
             "INSERT INTO user_xp (discord_id, xp) SELECT x + ?, 1 FROM n")
COUNT_MANY = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) "
              "SELECT count(*), thread_name() FROM n")
SMALL_BUDGET = files.OpenOptions(inline_vm_steps=200)


def _name_threads(db: GuildDb) -> None:
    """`thread_name()` in SQL answers which thread ran the statement (set while the worker is idle)."""
    db.raw.create_function("thread_name", 0, lambda: threading.current_thread().name)


@asynccontextmanager
async def _small_budget_db(root: Path) -> AsyncIterator[GuildDb]:
    """Guild 1's connection, its inline budget small enough for a statement of a few thousand rows to exceed it."""
    async with GuildDatabaseManager(root, max_open=4, options=SMALL_BUDGET) as manager, manager.connect(1) as db:
        yield db

@asynccontextmanager
async def _one_row_at_a_fresh_turn(root: Path, xp: int) -> AsyncIterator[GuildDb]:
    """Guild 1 holding member 1's `xp`, entered at a fresh turn of the loop (no inline time counted yet)."""
    async with GuildDatabaseManager(root, max_open=4) as manager, manager.connect(1) as db:
        await db.execute(INSERT_XP, (1, xp))
        await asyncio.sleep(0)
        yield db



async def _rows(db: GuildDb) -> int:
    return int((await db.execute_fetchall("SELECT count(*) FROM user_xp"))[0][0])


@pytest.mark.asyncio
async def test_a_point_read_and_a_small_transaction_run_on_the_loop_thread(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)  # `thread_name` is set on the file's connection, not on a copy
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        _name_threads(db)
        assert (await db.execute_fetchall("SELECT thread_name()"))[0][0] == threading.current_thread().name
        async with db.transaction():
            await db.execute(INSERT_XP, (1, 1))
            assert (await db.execute_fetchall("SELECT thread_name()"))[0][0] == threading.current_thread().name
        assert await _rows(db) == 1
        assert (await db.execute_fetchall("PRAGMA wal_autocheckpoint"))[0][0] == 0  # no fsync on the loop


@pytest.mark.asyncio
async def test_a_statement_over_its_budget_finishes_on_the_worker(tmp_path: Path) -> None:
    async with _small_budget_db(tmp_path) as db:
        _name_threads(db)
        count, thread = (await db.execute_fetchall(COUNT_MANY))[0]
        assert count == 2000
        assert thread.startswith("guildshelf-sql")


@pytest.mark.asyncio
async def test_a_write_over_its_budget_is_applied_once(tmp_path: Path) -> None:
    async with _small_budget_db(tmp_path) as db:
        await db.execute(MANY_ROWS, (0,))  # autocommit: interrupted inline, rolled back, redone on the worker
        assert await _rows(db) == 2000
        async with db.transaction():  # first statement of a transaction: its BEGIN goes with it
            await db.execute(MANY_ROWS, (10_000,))
        assert await _rows(db) == 4000


@pytest.mark.asyncio
async def test_a_long_write_late_in_a_transaction_never_loses_the_earlier_statements(tmp_path: Path) -> None:
    # Interrupting a write inside a transaction rolls the whole transaction back in SQLite:
    # such a write must never start inline.
    async with _small_budget_db(tmp_path) as db:
        async with db.transaction():
            await db.execute(INSERT_XP, (1, 1))
            await db.execute(MANY_ROWS, (10_000,))
            await db.execute(INSERT_XP, (2, 1))
        assert await _rows(db) == 2002
        assert not await db.run(lambda conn: conn.in_transaction)


def _worker_calls(db: GuildDb) -> int:
    return db._worker._queued


@pytest.mark.asyncio
async def test_a_read_then_a_write_in_a_transaction_never_leave_the_loop_thread(tmp_path: Path) -> None:
    # The common read-modify-write: its first change runs inline too, and its COMMIT with it.
    build_guild_file(tmp_path, 1)
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        _name_threads(db)
        await db.execute(INSERT_XP, (1, 10))
        before = _worker_calls(db)
        async with db.transaction():
            xp = (await db.execute_fetchall(READ_XP, (1,)))[0][0]
            await db.execute("UPDATE user_xp SET xp = ? WHERE discord_id = ?", (xp + 1, 1))
            await db.execute("INSERT INTO guild_settings (key, value) VALUES ('ran on', thread_name())")
        assert _worker_calls(db) - before == 2  # its second change and so its COMMIT: on the worker, as before
        assert (await db.execute_fetchall("SELECT xp FROM user_xp"))[0][0] == 11
        assert (await db.execute_fetchall("SELECT value FROM guild_settings WHERE key = 'ran on'"))[0][0] \
            .startswith("guildshelf-sql")
        before = _worker_calls(db)
        async with db.transaction():
            xp = (await db.execute_fetchall(READ_XP, (1,)))[0][0]
            await db.execute("UPDATE user_xp SET xp = ? WHERE discord_id = ?", (xp + 1, 1))
        assert _worker_calls(db) == before
        assert (await db.execute_fetchall("SELECT xp FROM user_xp"))[0][0] == 12


@pytest.mark.asyncio
async def test_a_first_write_over_its_budget_after_reads_is_redone_in_the_same_snapshot(tmp_path: Path) -> None:
    # SQLite rolls the whole transaction back when it interrupts a write: the worker begins it again,
    # and nothing the reads saw has changed meanwhile, so the transaction goes on as if uninterrupted.
    async with _small_budget_db(tmp_path) as db:
        await db.execute(INSERT_XP, (1, 10))
        async with db.transaction():
            count = await _rows(db)
            await db.execute(MANY_ROWS, (10_000,))
            await db.execute(INSERT_XP, (2, count))
        assert await _rows(db) == 2002
        assert (await db.execute_fetchall("SELECT xp FROM user_xp WHERE discord_id = 2"))[0][0] == 1
        assert not await db.run(lambda conn: conn.in_transaction)


@pytest.mark.asyncio
async def test_a_change_by_another_program_before_the_redo_fails_the_transaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the transaction read is stale once another program committed: busy, and nothing of it applied.
    path = build_guild_file(tmp_path, 1)
    begin = connection._begin_deferred
    sneaked: list[bool] = []

    def another_program_first(conn: sqlite3.Connection, tx: connection._TxState | None) -> None:
        if tx is not None and tx.version is not None and not conn.in_transaction and not sneaked:
            other = sqlite3.connect(path)
            other.execute(INSERT_XP, (99, 1))
            other.commit()
            other.close()
            sneaked.append(True)
        begin(conn, tx)

    async with _small_budget_db(tmp_path) as db:
        monkeypatch.setattr(connection, "_begin_deferred", another_program_first)
        with pytest.raises(DatabaseBusyError):
            async with db.transaction():
                await _rows(db)
                await db.execute(MANY_ROWS, (10_000,))
        assert sneaked
        monkeypatch.setattr(connection, "_begin_deferred", begin)
        assert await _rows(db) == 1  # the other program's row alone
        assert not await db.run(lambda conn: conn.in_transaction)


@pytest.mark.asyncio
async def test_rows_a_failed_inline_write_left_in_a_transaction_are_never_dropped(tmp_path: Path) -> None:
    # INSERT OR FAIL keeps the rows it inserted before failing: the transaction has changes from then on,
    # so a later write interrupted inline (which rolls everything back in SQLite) must never start inline.
    async with _small_budget_db(tmp_path) as db:
        await db.execute(INSERT_XP, (1, 0))
        async with db.transaction():
            await _rows(db)
            with pytest.raises(sqlite3.IntegrityError):
                await db.execute("INSERT OR FAIL INTO user_xp (discord_id, xp) "
                                 "SELECT column1, 0 FROM (VALUES (10), (11), (1))")
            await db.execute(MANY_ROWS, (10_000,))
        assert await _rows(db) == 1 + 2 + 2000


@pytest.mark.asyncio
async def test_cheap_statements_are_never_interrupted_spuriously(tmp_path: Path) -> None:
    # SQLite counts a cached statement's VM steps across its runs: an interrupt at the first call of the
    # progress handler would stop a point read now and then, and its clean-up could fail in the caller.
    async with _small_budget_db(tmp_path) as db:
        _name_threads(db)
        await db.execute(INSERT_XP, (1, 0))
        for _ in range(2000):
            async with db.transaction():
                rows = await db.execute_fetchall("SELECT xp, thread_name() FROM user_xp WHERE discord_id = 1")
                assert rows[0][1] == threading.current_thread().name


@pytest.mark.asyncio
async def test_an_open_runs_no_statement_on_the_loop_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A cache miss is a lifecycle thread's work: a call into SQLite on the loop gives the GIL away and waits
    # to get it back from that very thread. Its settings (no automatic checkpoint) come with the open.
    build_guild_file(tmp_path, 1)
    loop_thread = threading.current_thread()
    on_loop: list[str] = []
    connect = files.sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(
            lambda sql: on_loop.append(sql) if threading.current_thread() is loop_thread else None)
        return conn

    monkeypatch.setattr(files.sqlite3, "connect", traced)
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager:
        async with manager.connect(1) as db:
            assert on_loop == []
            assert (await db.run(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])) == 0
        async with manager.connect(2) as db:  # built at its first use: the same
            assert on_loop == []
    lazy = files.OpenOptions(lazy_files=True)
    async with GuildDatabaseManager(tmp_path, max_open=4, options=lazy) as manager, manager.connect(3) as db:
        await db.execute(INSERT_XP, (1, 1))  # a read-only copy until this write builds the file
        assert not db.is_copy and not [sql for sql in on_loop if not sql.startswith("INSERT")]  # (it may be inline)
        assert (await db.run(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])) == 0


@pytest.mark.asyncio
async def test_a_statement_waits_behind_a_call_queued_for_its_connection(tmp_path: Path) -> None:
    # While the worker runs a call of this connection, a statement never runs beside it on the loop.
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        parked, release = threading.Event(), threading.Event()

        def park(conn: sqlite3.Connection) -> None:
            conn.execute(INSERT_XP, (1, 1))
            parked.set()
            release.wait(10)
            conn.execute(INSERT_XP, (2, 1))

        running = asyncio.create_task(db.run(park))
        while not parked.is_set():
            await asyncio.sleep(0.001)
        reader = asyncio.create_task(db.execute_fetchall("SELECT count(*) FROM user_xp"))
        await asyncio.sleep(0.01)
        assert not reader.done()
        release.set()
        await asyncio.wait_for(running, 10)
        assert (await asyncio.wait_for(reader, 10))[0][0] == 2


@pytest.mark.asyncio
async def test_a_growing_wal_is_checkpointed_on_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "WAL_CHECKPOINT_BYTES", 64 * 1024)
    threads: list[str] = []
    checkpoint = connection.checkpoint_truncate

    def recorded(conn: sqlite3.Connection) -> bool:
        threads.append(threading.current_thread().name)
        return checkpoint(conn)

    monkeypatch.setattr(connection, "checkpoint_truncate", recorded)
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        for member in range(200):
            async with db.transaction():
                await db.execute(INSERT_XP, (member, 1))
        await db.run(lambda conn: None)  # after anything queued
        assert threads and all(name.startswith("guildshelf-sql") for name in threads)
        assert Path(f"{manager.path_for(1)}-wal").stat().st_size < 64 * 1024 + 10 * 4096
        assert await _rows(db) == 200


@pytest.mark.asyncio
async def test_inline_statements_can_be_switched_off(tmp_path: Path) -> None:
    options = files.OpenOptions(inline_vm_steps=0)
    async with GuildDatabaseManager(tmp_path, max_open=4, options=options) as manager, manager.connect(1) as db:
        _name_threads(db)
        assert (await db.execute_fetchall("SELECT thread_name()"))[0][0].startswith("guildshelf-sql")


@pytest.mark.asyncio
async def test_a_task_running_many_inline_statements_lets_other_tasks_run(tmp_path: Path) -> None:
    # A statement on the worker always gave the loop a turn; inline ones must not starve other tasks.
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        await db.execute(INSERT_XP, (1, 1))
        turns = 0
        reading = True

        async def other() -> None:
            nonlocal turns
            while reading:
                turns += 1
                await asyncio.sleep(0)

        other_task = asyncio.create_task(other())
        await asyncio.sleep(0)
        start = turns
        for _ in range(2000):  # at least a few ms of inline statements
            await db.execute_fetchall(READ_XP, (1,))
        turns_while_reading = turns - start
        reading = False
        await asyncio.wait_for(other_task, 10)
        assert turns_while_reading > 0


@pytest.mark.asyncio
async def test_other_work_on_the_loop_does_not_count_against_the_inline_slice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The slice bounds the statements' own time in a turn of the loop; counting every other callback's time
    # too made a busy bot's statements wait a turn each, about five turns a statement under load.
    # A slice far above a point read's time: on a loaded machine one read can take more than the real 0.1 ms.
    monkeypatch.setattr(connection, "INLINE_SLICE_S", 0.05)
    async with _one_row_at_a_fresh_turn(tmp_path, 1) as db:
        await db.execute_fetchall(READ_XP, (1,))  # opens the slice
        spin_until = time.perf_counter() + 4 * connection.INLINE_SLICE_S
        while time.perf_counter() < spin_until:  # the turn goes on with other Python work
            pass
        turns: list[int] = []
        asyncio.get_running_loop().call_soon(turns.append, 1)

        await db.execute_fetchall(READ_XP, (1,))

        assert turns == []  # it ran in the same turn


@pytest.mark.asyncio
@pytest.mark.parametrize("sql", ["PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "  pragma user_version"])
async def test_pragmas_and_vacuum_never_run_on_the_loop(tmp_path: Path, sql: str) -> None:
    # A PRAGMA may checkpoint (fsync) and VACUUM rewrites the file: the worker's work.
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        await db.execute(INSERT_XP, (1, 1))
        queued = db._worker._queued
        await db.execute(sql)
        assert db._worker._queued > queued


@pytest.mark.asyncio
async def test_statements_go_to_the_worker_while_a_file_is_being_opened(tmp_path: Path) -> None:
    # An open on another thread needs the GIL often: the loop then waits in epoll, not in inline statements.
    async with GuildDatabaseManager(tmp_path, max_open=4) as manager, manager.connect(1) as db:
        _name_threads(db)
        pool = manager._query_pool()
        pool.hold(+1)
        try:
            assert (await db.execute_fetchall("SELECT thread_name()"))[0][0].startswith("guildshelf-sql")
        finally:
            pool.hold(-1)
        assert (await db.execute_fetchall("SELECT thread_name()"))[0][0] == threading.current_thread().name


@pytest.mark.asyncio
async def test_opens_that_fail_or_race_leave_no_hold_behind(tmp_path: Path) -> None:
    (tmp_path / "3.sqlite3").write_bytes(b"not a database" * 100)  # quarantined at open
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager:
        results = await asyncio.gather(*(_touch(manager, g) for g in (1, 2, 3, 4, 1, 2)), return_exceptions=True)
        assert sum(isinstance(r, Exception) for r in results) == 1
        assert all(worker.holds == 0 for worker in manager._query_pool()._workers)


async def _touch(manager: GuildDatabaseManager, guild_id: int) -> None:
    async with manager.connect(guild_id) as db:
        await db.execute_fetchall("SELECT 1")


@pytest.mark.asyncio
async def test_a_cancelled_waiting_statement_does_not_hold_up_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "INLINE_SLICE_S", 0.0)
    async with _one_row_at_a_fresh_turn(tmp_path, 7) as db:
        reads = [asyncio.create_task(db.execute_fetchall(READ_XP, (1,)))
                 for _ in range(10)]
        await asyncio.sleep(0)  # the first ran; the others wait for their turn
        for index in (1, 2, 5, 9):
            reads[index].cancel()
        done, _ = await asyncio.wait(reads, timeout=10)
        assert len(done) == 10
        for index, task in enumerate(reads):
            if index in (1, 2, 5, 9):
                assert task.cancelled()
            else:
                assert [tuple(row) for row in task.result()] == [(7,)]
        await db.execute(INSERT_XP, (2, 8))  # the connection is usable afterwards
        assert [tuple(row) for row in await db.execute_fetchall("SELECT count(*) FROM user_xp")] == [(2,)]
