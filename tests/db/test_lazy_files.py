"""A guild never written has no file: reads answer from a read-only copy, the first write builds the file."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager, files
from app.db.files import OpenOptions, build_file
from app.db.schema import GUILD_SCHEMA
from app.errors import NotFoundError
from app.features.achievements import check_achievements
from app.rights.export import export_guild
from app.rights.guild_delete import delete_guild
from app.rights.member import erase_member

LAZY = OpenOptions(lazy_files=True)  # GUILD_FILE_CREATION=first-write (the manager's default builds at first use)

GUILD = 123_456_789_012_345_678
READS = [
    "SELECT guild_id, schema_version FROM guild_meta",
    "SELECT count(*) FROM user_xp",
    "SELECT type, name, sql FROM sqlite_master ORDER BY name",
    "WITH members AS (SELECT discord_id FROM users) SELECT count(*) FROM members",
]


def _answers(conn: sqlite3.Connection) -> list[list[tuple[object, ...]]]:
    return [[tuple(r) for r in conn.execute(sql)] for sql in READS]


def _xp_rows(path: Path) -> dict[int, int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        return dict(conn.execute("SELECT discord_id, xp FROM user_xp"))
    finally:
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("max_open", [1, 2, 64])
async def test_a_guild_only_read_has_no_file_and_answers_as_an_empty_one(tmp_path: Path, max_open: int) -> None:
    reference = tmp_path / "reference.sqlite3"
    build_file(reference, GUILD_SCHEMA, GUILD)
    conn = sqlite3.connect(reference)
    expected = _answers(conn)
    conn.close()
    root = tmp_path / "dbs"
    async with GuildDatabaseManager(root, max_open=max_open, options=LAZY) as manager:
        for _ in range(2):
            async with manager.connect(GUILD) as db:
                got = [[tuple(r) for r in await db.execute_fetchall(sql)] for sql in READS]
                assert got == expected
                assert await db.run(lambda c: c.execute("SELECT count(*) FROM users").fetchone()[0]) == 0
            async with manager.connect(GUILD + 1) as other:  # evicts GUILD when max_open is 1
                await other.execute_fetchall("SELECT 1")
        assert manager.stats().virtual_opens >= 2
        assert manager.stats().opens == manager.stats().creates == 0
    assert manager.guild_ids_on_disk() == []
    assert [p.name for p in root.iterdir()] == []


@pytest.mark.asyncio
@pytest.mark.parametrize("max_open", [1, 64])
async def test_the_first_write_builds_one_complete_file(tmp_path: Path, max_open: int) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=max_open, options=LAZY) as manager:
        async with manager.connect(GUILD) as db:
            assert (await db.execute_fetchall("SELECT count(*) FROM user_xp"))[0][0] == 0
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 10)")
            assert manager.path_for(GUILD).exists()
            assert (await db.execute_fetchall("SELECT xp FROM user_xp"))[0][0] == 10
        assert (manager.stats().creates, manager.stats().opens, manager.stats().virtual_opens) == (1, 1, 1)
    assert _xp_rows(tmp_path / f"{GUILD}.sqlite3") == {1: 10}
    async with GuildDatabaseManager(tmp_path, max_open=max_open, options=LAZY) as manager, manager.connect(GUILD) as db:
        assert (await db.execute_fetchall("SELECT xp FROM user_xp"))[0][0] == 10
        assert (await db.execute_fetchall("SELECT guild_id FROM guild_meta"))[0][0] == GUILD
        assert manager.stats().virtual_opens == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("max_open", [1, 2, 64])
async def test_fifty_concurrent_first_writes_build_one_file_and_keep_every_row(tmp_path: Path, max_open: int,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    builds = 0
    real_build = files.build_file

    def counting_build(*args: object) -> bool:
        nonlocal builds
        builds += 1
        return real_build(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "build_file", counting_build)

    async def write(member: int) -> None:
        async with manager.connect(GUILD) as db:
            await db.execute_fetchall("SELECT count(*) FROM user_xp")
            if member % 3 == 0:
                await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", (member, member))
            elif member % 3 == 1:
                async with db.transaction():
                    await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", (member, member))
            else:
                await db.run(lambda c: c.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)",
                                                 (member, member)))

    async with GuildDatabaseManager(tmp_path, max_open=max_open, options=LAZY) as manager:
        await asyncio.gather(*(write(m) for m in range(1, 51)))
        assert manager.stats().creates == 1
    assert builds == 1
    assert _xp_rows(tmp_path / f"{GUILD}.sqlite3") == {m: m for m in range(1, 51)}


@pytest.mark.asyncio
async def test_a_transaction_of_reads_then_a_write_commits_on_a_guild_never_written(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        async with db.transaction():
            row = await db.execute_fetchone("SELECT value FROM guild_settings WHERE key = 'n'")
            assert row is None
            await db.execute("INSERT INTO guild_settings (key, value) VALUES ('n', '1')")
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction():
                await db.execute("INSERT INTO guild_settings (key, value) VALUES ('m', '2')")
                await db.execute("INSERT INTO guild_settings (key, value) VALUES ('n', '3')")
        rows = await db.execute_fetchall("SELECT key, value FROM guild_settings")
    assert [tuple(r) for r in rows] == [("n", "1")]


@pytest.mark.asyncio
async def test_writes_that_reach_the_copy_are_run_again_on_the_new_file(tmp_path: Path) -> None:
    def swallowing(conn: sqlite3.Connection) -> str:
        try:
            conn.execute("INSERT INTO user_xp (discord_id, xp) VALUES (2, 20)")
        except sqlite3.OperationalError as error:
            return str(error)  # a careless caller: the write must not be lost all the same
        return "written"

    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        await db.execute("WITH v (x) AS (SELECT 10) INSERT INTO user_xp (discord_id, xp) SELECT 1, x FROM v")
        assert not db.is_copy
    async with GuildDatabaseManager(tmp_path / "b", max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        assert await db.run(swallowing) == "written"
    assert _xp_rows(tmp_path / f"{GUILD}.sqlite3") == {1: 10}
    assert _xp_rows(tmp_path / "b" / f"{GUILD}.sqlite3") == {2: 20}


@pytest.mark.asyncio
@pytest.mark.parametrize("max_open", [1, 64])
async def test_a_task_cancelled_while_its_file_is_built_leaves_a_complete_file_or_none(
        tmp_path: Path, max_open: int, monkeypatch: pytest.MonkeyPatch) -> None:
    building, release = threading.Event(), threading.Event()
    real_open = files.open_file

    def slow_open(*args: object, **kwargs: object) -> tuple[sqlite3.Connection, bool]:
        building.set()
        assert release.wait(10)
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "open_file", slow_open)
    path = tmp_path / f"{GUILD}.sqlite3"
    async with GuildDatabaseManager(tmp_path, max_open=max_open, options=LAZY) as manager:
        async def write(member: int) -> None:
            async with manager.connect(GUILD) as db:
                await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, 1)", (member,))

        task = asyncio.ensure_future(write(1))
        while not building.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not path.exists() or _xp_rows(path) == {}  # the build is atomic: none, or a whole empty file
        evicted = asyncio.ensure_future(manager.evict(GUILD))
        release.set()
        await evicted
        async with manager.exclusive(GUILD):  # the build ended and its connection closed
            assert _xp_rows(path) == {}
        monkeypatch.setattr(files, "open_file", real_open)
        await write(2)
    assert _xp_rows(path) == {2: 1}


@pytest.mark.asyncio
async def test_a_failed_build_leaves_no_file_and_the_next_write_builds_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = files.open_file

    def failing_open(*args: object, **kwargs: object) -> tuple[sqlite3.Connection, bool]:
        raise OSError("disk full")

    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        monkeypatch.setattr(files, "open_file", failing_open)
        with pytest.raises(OSError, match="disk full"):
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)")
        assert db.is_copy and not manager.path_for(GUILD).exists()
        monkeypatch.setattr(files, "open_file", real_open)
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)")
    assert _xp_rows(tmp_path / f"{GUILD}.sqlite3") == {1: 1}


@pytest.mark.asyncio
async def test_a_guild_deleted_then_read_again_has_no_file(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager:
        async with manager.connect(GUILD) as db:
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)")
        await delete_guild(manager, GUILD, requested_by="test", reason="test")
        async with manager.connect(GUILD) as db:
            assert (await db.execute_fetchall("SELECT count(*) FROM user_xp"))[0][0] == 0
            assert db.is_copy
        assert not manager.path_for(GUILD).exists()
        with pytest.raises(NotFoundError):  # nothing to delete: said so, no receipt
            await delete_guild(manager, GUILD, requested_by="test", reason="again")
        async with manager.connect_bot() as bot_db:
            receipts = await bot_db.execute_fetchall("SELECT reason FROM deletion_receipts")
        assert [r[0] for r in receipts] == ["test"]
    assert manager.guild_ids_on_disk() == []


@pytest.mark.asyncio
async def test_the_export_of_a_guild_never_written_is_empty_and_creates_no_file(tmp_path: Path) -> None:
    root = tmp_path / "dbs"
    async with GuildDatabaseManager(root, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        result = await export_guild(db, tmp_path / "out.sqlite3")
    assert sum(result.tables.values()) == 1  # guild_meta's own row
    conn = sqlite3.connect(tmp_path / "out.sqlite3")
    assert conn.execute("SELECT guild_id FROM guild_meta").fetchone()[0] == GUILD
    conn.close()
    assert [p.name for p in root.iterdir()] == []


@pytest.mark.asyncio
async def test_closing_a_copy_opens_no_file_and_shutdown_leaves_nothing(tmp_path: Path) -> None:
    options = OpenOptions(remove_side_files=True, lazy_files=True)
    async with GuildDatabaseManager(tmp_path, max_open=1, options=options) as manager:
        for guild_id in range(1, 20):
            async with manager.connect(guild_id) as db:
                await db.execute_fetchall("SELECT count(*) FROM user_xp")
        async with manager.exclusive(1) as path:
            assert not path.exists()
        assert manager.stats().virtual_opens == 19
        assert manager.stats().closes == 0  # a copy's close is not a file's
    assert list(tmp_path.iterdir()) == []


@pytest.mark.asyncio
async def test_a_file_another_program_builds_meanwhile_is_read_instead_of_the_copy(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        assert (await db.execute_fetchall("SELECT count(*) FROM user_xp"))[0][0] == 0
        path = tmp_path / f"{GUILD}.sqlite3"
        build_file(path, GUILD_SCHEMA, GUILD)
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO user_xp (discord_id, xp) VALUES (7, 70)")  # a restore beside the bot, say
        conn.commit()
        conn.close()
        assert [tuple(r) for r in await db.execute_fetchall("SELECT discord_id, xp FROM user_xp")] == [(7, 70)]
        assert not db.is_copy and manager.stats().creates == 0


@pytest.mark.asyncio
async def test_erasing_a_member_of_a_guild_never_written_builds_no_file(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        erased = await erase_member(db, 42)
    assert erased.rows_changed == 0
    assert manager.guild_ids_on_disk() == []


@pytest.mark.asyncio
async def test_checking_achievements_of_a_guild_never_written_builds_no_file(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=LAZY) as manager, manager.connect(GUILD) as db:
        assert await check_achievements(db, 42) == []
    assert manager.guild_ids_on_disk() == []
