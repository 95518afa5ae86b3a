"""Regressions of the storage core's adversarial review: each test reproduced a failure on the old code."""
from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from app.db import GuildDatabaseManager, files, native
from app.db.connection import GuildDb
from app.db.manager import LIVE_SLACK
from app.db.schema import GUILD_SCHEMA, split_statements
from app.errors import (
    DatabaseBusyError,
    DatabaseQuarantinedError,
    GuildDatabaseError,
    ManagerClosedError,
    ResourceLimitError,
)
from tests.db.helpers import build_guild_file

INSERT_XP = "INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)"
# A lock wait slept on the shared thread took the whole busy timeout: 30 s, far above what a loaded machine
# adds to an answer that waits for nothing (these tests measure that answer in wall-clock time).
LONG_BUSY = files.OpenOptions(busy_timeout_ms=30_000)


async def _block_shared_worker(manager: GuildDatabaseManager, guild_id: int) -> threading.Event:
    """Park the shared SQL thread on a call from another guild until the returned event is set."""
    release, parked = threading.Event(), threading.Event()

    def park(_conn: sqlite3.Connection) -> None:
        parked.set()
        release.wait(10)

    async def hold() -> None:
        async with manager.connect(guild_id) as other:
            await other.run(park)

    asyncio.get_running_loop().create_task(hold())
    while not parked.is_set():
        await asyncio.sleep(0.001)
    return release


async def _rows(manager: GuildDatabaseManager, guild_id: int) -> set[int]:
    async with manager.connect(guild_id) as db:
        return {r[0] for r in await db.execute_fetchall("SELECT discord_id FROM user_xp")}


async def _idle(db: GuildDb) -> bool:
    return not await db.run(lambda conn: conn.in_transaction)


# -- 1. cancellation --------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_cancel_while_the_first_statement_is_queued_leaves_no_transaction_open(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        async with manager.connect(1) as db:
            await db.execute("SELECT 1")
            release = await _block_shared_worker(manager, 2)

            async def write() -> None:
                async with db.transaction():
                    await db.execute(INSERT_XP, (10, 1))

            task = asyncio.create_task(write())
            await asyncio.sleep(0.01)  # the INSERT (and its BEGIN) is queued behind the parked call
            task.cancel()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await _idle(db)
            async with db.transaction():  # the lock is free and no transaction is left open
                await db.execute(INSERT_XP, (11, 1))
        assert await _rows(manager, 1) == {11}


@pytest.mark.asyncio
async def test_cancel_during_commit_raises_cancelled_and_leaves_the_connection_idle(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        statement_done = asyncio.Event()
        hold = asyncio.Event()

        async def write() -> None:
            async with db.transaction():
                await db.execute(INSERT_XP, (10, 1))
                statement_done.set()
                await hold.wait()

        task = asyncio.create_task(write())
        await statement_done.wait()
        release = await _block_shared_worker(manager, 2)
        hold.set()
        await asyncio.sleep(0.01)  # COMMIT is queued behind the parked call
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _idle(db)
        async with db.transaction():
            await db.execute(INSERT_XP, (11, 1))


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
@pytest.mark.parametrize("max_open", [1, 16, 64])
async def test_random_cancellations_lose_no_acknowledged_write(tmp_path: Path, max_open: int, policy: str) -> None:
    rng = random.Random(max_open)
    acknowledged: dict[int, set[int]] = {g: set() for g in range(1, 65)}
    async with GuildDatabaseManager(tmp_path, max_open=max_open, policy=policy) as manager:

        async def write(guild_id: int, member: int) -> None:
            async with manager.connect(guild_id) as db, db.transaction():
                await db.execute(INSERT_XP, (member, 1))
                await db.execute("UPDATE user_xp SET xp = xp + 1 WHERE discord_id = ?", (member,))
            acknowledged[guild_id].add(member)

        tasks = [asyncio.create_task(write(rng.randint(1, 64), member)) for member in range(1200)]
        # At most 1000 cancelled: how many writes end before their cancellation comes depends on the machine's
        # speed (about 200 here, 4 times fewer on a loaded machine), the 200 left alone always end.
        cancelled = 0
        while not all(t.done() for t in tasks):
            await asyncio.sleep(rng.random() / 1000)
            for victim in rng.sample(tasks, 10):
                if cancelled < 1000:
                    cancelled += victim.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for guild_id, members in acknowledged.items():
            async with manager.connect(guild_id) as db:
                assert await _idle(db)
                on_disk = {r[0] for r in await db.execute_fetchall("SELECT discord_id FROM user_xp WHERE xp = 2")}
            assert members <= on_disk
        assert sum(map(len, acknowledged.values())) > 50
        assert manager.stats().peak_open <= max_open + LIVE_SLACK


# -- 2. run() inside a transaction ------------------------------------------------------------------
@pytest.mark.asyncio
async def test_run_inside_a_transaction_is_rolled_back_with_it(manager: GuildDatabaseManager) -> None:
    async with manager.connect(1) as db:
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.run(lambda conn: conn.execute(INSERT_XP, (5, 1)))
                raise RuntimeError("boom")
    assert await _rows(manager, 1) == set()


# -- 3. lock waits never sleep on the shared thread ------------------------------------------------
@pytest.mark.asyncio
async def test_a_lock_held_by_another_process_never_delays_another_guild(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)  # another program takes its lock: it must exist
    async with GuildDatabaseManager(tmp_path, max_open=8, options=LONG_BUSY) as manager:
        async with manager.connect(1) as db:
            await db.execute("SELECT 1")
        holder = sqlite3.connect(manager.path_for(1), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            async def blocked_write() -> None:
                async with manager.connect(1) as db:
                    await db.execute(INSERT_XP, (1, 1))

            writer = asyncio.create_task(blocked_write())
            await asyncio.sleep(0.05)
            start = time.perf_counter()
            async with manager.connect(2) as other:
                await other.execute("SELECT 1")
            unrelated = time.perf_counter() - start
            assert not writer.done()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await asyncio.wait_for(writer, 10)
        assert unrelated < 10.0  # the busy wait of guild 1 is async: guild 2 answers at once (30 s before)
        assert await _rows(manager, 1) == {1}


@pytest.mark.asyncio
async def test_a_lock_never_released_ends_in_a_clear_busy_error(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)
    options = files.OpenOptions(busy_timeout_ms=200)
    async with GuildDatabaseManager(tmp_path, max_open=8, options=options) as manager:
        async with manager.connect(1) as db:
            await db.execute("SELECT 1")
        holder = sqlite3.connect(manager.path_for(1), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(DatabaseBusyError) as caught:
                async with manager.connect(1) as db:
                    await db.execute(INSERT_XP, (1, 1))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert "busy" in caught.value.user_message


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
async def test_an_evicted_connection_in_use_is_reused_not_doubled(tmp_path: Path, policy: str) -> None:
    for guild_id in (2, 3):
        build_guild_file(tmp_path, guild_id)  # opens of files are counted (a guild only read has none)
    async with GuildDatabaseManager(tmp_path, max_open=1, policy=policy, options=LONG_BUSY) as manager:
        async with manager.connect(1) as first:
            async with first.transaction():
                await first.execute(INSERT_XP, (1, 1))
                async with manager.connect(2):  # evicts guild 1 while its transaction is open
                    pass

                async def autocommit_write() -> None:
                    async with manager.connect(1) as again:
                        await again.execute(INSERT_XP, (2, 1))

                second = asyncio.create_task(autocommit_write())
                start = time.perf_counter()
                async with manager.connect(3) as other:
                    await other.execute("SELECT 1")
                assert time.perf_counter() - start < 10.0  # a busy wait on the shared thread: 30 s
            await asyncio.wait_for(second, 10)
        assert manager.stats().opens == 3
        assert await _rows(manager, 1) == {1, 2}


# -- 4. concurrent creation --------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_concurrent_openers_of_one_new_guild_build_it_once(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=1) as manager:

        async def touch(guild_id: int) -> None:
            async with manager.connect(guild_id) as db:
                await db.execute("SELECT 1")
                await db.execute("INSERT OR IGNORE INTO user_xp (discord_id, xp) VALUES (1, 1)")  # builds the file

        await asyncio.gather(*(touch(g) for _ in range(20) for g in (1, 2, 3)))
        assert manager.stats().creates == 3


def test_builds_in_two_threads_and_a_stale_leftover_never_fail(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    created: list[bool] = []
    for guild_id in range(1, 40):  # leftovers of a crashed builder, found by this process's first build
        (tmp_path / f".{guild_id}.sqlite3.building-999999-deadbeef").write_bytes(b"half")
    for guild_id in range(1, 40):
        path = tmp_path / f"{guild_id}.sqlite3"

        def build(path: Path = path, guild_id: int = guild_id) -> None:
            try:
                conn, made = files.open_file(path, GUILD_SCHEMA, guild_id, files.OpenOptions(), True)
                conn.close()
                created.append(made)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=build) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert created.count(True) == 39
    assert not list(tmp_path.glob(".*building*"))


def test_a_build_does_not_list_the_whole_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leftovers of crashed builds are swept once per folder and process: a bot in 10,000 servers listed
    its 30,000-entry folder at every new server (tens of ms each, 330 s to create a fleet)."""
    listings: list[str] = []
    real_scandir = files.os.scandir

    def scandir(path: Any = ".") -> Any:
        listings.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(files.os, "scandir", scandir)
    for guild_id in range(1, 21):
        path = tmp_path / f"{guild_id}.sqlite3"
        conn, made = files.open_file(path, GUILD_SCHEMA, guild_id, files.OpenOptions(), True)
        conn.close()
        assert made
    assert listings == [str(tmp_path)]


_BUILD_SCRIPT = """
import sys
from pathlib import Path
from app.db import files
from app.db.schema import GUILD_SCHEMA
root = Path(sys.argv[1]); made = 0
for guild_id in range(1, 151):
    conn, created = files.open_file(root / f"{guild_id}.sqlite3", GUILD_SCHEMA, guild_id, files.OpenOptions(), True)
    conn.close(); made += created
print(made)
"""


def test_two_processes_building_the_same_guilds_never_fail(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _BUILD_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert sum(int(out) for out, _ in outputs) == 150


# -- 5. a leftover -wal is never replayed into a new file --------------------------------------------
@pytest.mark.asyncio
async def test_a_wal_without_its_main_file_is_set_aside_not_replayed(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        async with manager.connect(1) as db:
            await db.execute(INSERT_XP, (77, 1))
        await manager.evict(1)
        while manager.is_open(1):
            await asyncio.sleep(0.001)
        path = manager.path_for(1)
        assert Path(f"{path}-wal").stat().st_size > 0  # the row lives only in the -wal
        path.unlink()  # an operator deletes the main file only
        assert await _rows(manager, 1) == set()
        async with manager.connect(1) as db:  # the first write builds the file: the -wal is set aside first
            await db.execute(INSERT_XP, (78, 1))
        assert await _rows(manager, 1) == {78}
        kept = sorted(p for p in tmp_path.iterdir() if ".quarantined-" in p.name)
    wal = [p for p in kept if p.name.startswith("1.sqlite3.quarantined-") and p.name.endswith("-wal")]
    assert len(wal) == 1 and wal[0].stat().st_size > 0


# -- 6. after a clean shutdown every file is complete on its own -------------------------------------
@pytest.mark.asyncio
async def test_close_all_checkpoints_files_evicted_earlier(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager:
        for guild_id in range(1, 21):
            async with manager.connect(guild_id) as db:
                await db.execute(INSERT_XP, (guild_id, 1))
    for guild_id in range(1, 21):
        main = tmp_path / f"{guild_id}.sqlite3"
        wal = Path(f"{main}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        copy = tmp_path / "copy.sqlite3"
        copy.write_bytes(main.read_bytes())  # the main file alone
        conn = sqlite3.connect(copy)
        assert conn.execute("SELECT discord_id FROM user_xp").fetchall() == [(guild_id,)]
        conn.close()
        for name in ("copy.sqlite3", "copy.sqlite3-wal", "copy.sqlite3-shm"):
            (tmp_path / name).unlink(missing_ok=True)


# -- 7. quarantine only on proven damage ---------------------------------------------------------------
async def _file_with_unparseable_schema(tmp_path: Path) -> Path:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        async with manager.connect(1) as db:
            await db.execute(INSERT_XP, (1, 1))
        path = manager.path_for(1)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("INSERT INTO sqlite_master VALUES ('table', 'future', 'future', 0, "
                 "'CREATE TABLE future (a INT) WITH FUTURE SYNTAX')")
    conn.commit()
    conn.close()
    return path


@pytest.mark.asyncio
async def test_a_file_with_newer_schema_syntax_is_refused_and_kept(tmp_path: Path) -> None:
    path = await _file_with_unparseable_schema(tmp_path)
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        with pytest.raises(GuildDatabaseError) as caught:
            async with manager.connect(1):
                pass
    assert not isinstance(caught.value, DatabaseQuarantinedError)
    assert "newer SQLite" in caught.value.user_message  # type: ignore[attr-defined]
    assert path.exists()
    assert not [p for p in tmp_path.iterdir() if ".quarantined-" in p.name]


@pytest.mark.asyncio
async def test_a_locked_file_is_refused_as_busy_and_kept(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        async with manager.connect(1) as db:
            await db.execute(INSERT_XP, (1, 1))
        path = manager.path_for(1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        async with GuildDatabaseManager(tmp_path, max_open=8,
                                        options=files.OpenOptions(busy_timeout_ms=100)) as manager:
            with pytest.raises(DatabaseBusyError):
                async with manager.connect(1):
                    pass
    finally:
        holder.close()
    assert path.exists()
    assert not [p for p in tmp_path.iterdir() if ".quarantined-" in p.name]


@pytest.mark.asyncio
async def test_a_file_failing_quick_check_is_quarantined(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        async with manager.connect(1) as db:
            await db.executemany(INSERT_XP, [(i, i) for i in range(3000)])
        path = manager.path_for(1)
    data = bytearray(path.read_bytes())
    for page_start in range(4096, len(data), 4096):  # every b-tree page but the schema's: a bad page type
        data[page_start] = 0xA5
    path.write_bytes(bytes(data))
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        with pytest.raises(DatabaseQuarantinedError):
            async with manager.connect(1):
                pass
    assert not path.exists()


# -- 8. the smaller ones --------------------------------------------------------------------------------
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.asyncio
async def test_a_failed_migration_leaks_no_connection(tmp_path: Path) -> None:
    from tests.db.helpers import build_v1_file

    broken = tmp_path / "migrations"
    broken.mkdir()  # no migration to version 2: the runner's own check fails (not an SQLite error)
    schema = type(GUILD_SCHEMA)("guild", GUILD_SCHEMA.sql_path, broken, "guild_meta")
    build_v1_file(tmp_path / "dbs", 1)
    before = _open_fds()
    for _ in range(20):
        with pytest.raises(GuildDatabaseError):
            files.open_file(tmp_path / "dbs" / "1.sqlite3", schema, 1, files.OpenOptions(), False)
    assert _open_fds() <= before + 1


def test_two_statements_on_one_line_are_split() -> None:
    script = "CREATE TABLE a (x INT); CREATE TABLE b (y INT);\n-- note\nINSERT INTO a VALUES (';');"
    assert split_statements(script) == ["CREATE TABLE a (x INT);", "CREATE TABLE b (y INT);",
                                         "-- note\nINSERT INTO a VALUES (';');"]


def test_setconfig_returning_none_counts_as_done() -> None:
    class Conn:
        def __init__(self) -> None:
            self.config: dict[int, bool] = {}

        def setconfig(self, op: int, enable: bool = True) -> None:
            self.config[op] = enable

        def getconfig(self, op: int) -> bool:
            return self.config.get(op, False)

    assert native.skip_checkpoint_on_close(Conn())  # type: ignore[arg-type]


def test_maps_lines_with_spaces_and_deleted_libraries_are_parsed() -> None:
    lines = [
        "7f00-7f01 r-xp 00000000 08:01 1234   /opt/my libs/libsqlite3.so.0.8.6\n",
        "7f02-7f03 r-xp 00000000 08:01 1235   /usr/lib/libsqlite3.so.0 (deleted)\n",
        "7f04-7f05 r-xp 00000000 00:00 0 \n",
    ]
    assert native.libsqlite_paths(lines) == {"/opt/my libs/libsqlite3.so.0.8.6"}


@pytest.mark.asyncio
async def test_a_statement_after_close_all_raises_instead_of_hanging(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=8)
    async with manager.connect(1) as db:
        await db.execute("SELECT 1")
    async with manager.connect_bot() as bot_db:
        pass
    await manager.close_all()
    with pytest.raises(ManagerClosedError):
        await asyncio.wait_for(db.execute("SELECT 1"), 5)
    with pytest.raises(ManagerClosedError):
        await asyncio.wait_for(bot_db.execute("SELECT 1"), 5)


@pytest.mark.asyncio
async def test_close_all_waits_for_users_of_the_bot_wide_file(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=8)
    finished = []

    async def user() -> None:
        async with manager.connect_bot() as bot_db:
            await asyncio.sleep(0.1)
            await bot_db.execute("SELECT 1")
            finished.append(True)

    task = asyncio.create_task(user())
    await asyncio.sleep(0.02)
    await manager.close_all()
    await asyncio.wait_for(task, 5)
    assert finished == [True]


@pytest.mark.asyncio
async def test_a_second_lease_beyond_the_live_limit_fails_clearly(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=1, lease_wait_s=0.2) as manager:
        leases = [manager.connect(g) for g in range(1, LIVE_SLACK + 2)]
        for lease in leases:
            await lease.__aenter__()
        try:
            with pytest.raises(ResourceLimitError):
                async with manager.connect(LIVE_SLACK + 5):
                    pass
        finally:
            for lease in leases:
                await lease.__aexit__(None, None, None)


@pytest.mark.asyncio
async def test_a_guild_and_a_bot_wide_transaction_can_be_open_together(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager:
        async with manager.connect(1) as db, db.transaction(), manager.connect_bot() as bot_db:
            await db.execute(INSERT_XP, (1, 1))
            async with bot_db.transaction():
                await bot_db.execute("SELECT 1")
        assert await _rows(manager, 1) == {1}


@pytest.mark.asyncio
async def test_nested_transactions_on_one_file_are_still_refused(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1) as db:
        with pytest.raises(GuildDatabaseError):
            async with db.transaction(), db.transaction():
                pass
        assert await _idle(db)


@pytest.mark.asyncio
async def test_close_all_leaves_alone_the_files_it_did_not_write(tmp_path: Path) -> None:
    build_guild_file(tmp_path, 1)
    async with GuildDatabaseManager(tmp_path, max_open=8) as manager, manager.connect(1):
        pass
    other_process = sqlite3.connect(tmp_path / "1.sqlite3", isolation_level=None)
    assert native.skip_checkpoint_on_close(other_process)
    other_process.execute(INSERT_XP, (9, 1))  # a running bot's write, still in the -wal
    other_process.close()
    wal = tmp_path / "1.sqlite3-wal"
    before = wal.stat().st_size
    async with GuildDatabaseManager(tmp_path, max_open=8) as cli:  # a CLI command reading that server
        assert await _rows(cli, 1) == {9}
    assert before > 0 and wal.stat().st_size == before
