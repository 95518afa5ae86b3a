from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.errors import FileInUseError, NotFoundError
from app.rights.guild_delete import delete_guild, finish_interrupted_deletions
from app.rights.receipts import OPERATOR_CLI, list_receipts
from tests.rights.conftest import populate

GUILD, OTHER = 5151, 6262


async def _receipts(mgr: GuildDatabaseManager) -> list:
    async with mgr.connect_bot() as bot_db:
        return await list_receipts(bot_db)


@pytest.mark.asyncio
async def test_delete_removes_the_file_and_its_side_files_and_writes_a_receipt(
        mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
    path = mgr.path_for(GUILD)
    deletion = await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="asked")
    assert not path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith((path.name, f".{path.name}"))]
    [receipt] = await _receipts(mgr)
    assert (receipt.scope, receipt.guild_id, receipt.requested_by) == ("guild", GUILD, OPERATOR_CLI)
    assert receipt.rows_deleted == deletion.rows_deleted > 0
    assert receipt.bytes_deleted == deletion.bytes_deleted > 0
    assert "user1001" not in repr(receipt)  # sizes and who asked, never content


@pytest.mark.asyncio
async def test_a_command_after_deletion_starts_from_an_empty_file(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
    await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="asked")
    async with mgr.connect(GUILD) as db:
        assert await db.execute_fetchall("SELECT * FROM users") == []
        assert (await db.execute_fetchall("SELECT guild_id FROM guild_meta"))[0][0] == GUILD


@pytest.mark.asyncio
async def test_deleting_a_guild_without_a_file_says_so_and_records_nothing(mgr: GuildDatabaseManager) -> None:
    with pytest.raises(NotFoundError) as caught:
        await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="asked")
    assert "no data file" in caught.value.user_message
    assert await _receipts(mgr) == []
    assert not mgr.path_for(GUILD).exists()


@pytest.mark.asyncio
async def test_delete_is_refused_while_another_connection_holds_the_file(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
    await mgr.evict(GUILD)
    other = sqlite3.connect(mgr.path_for(GUILD))  # stands for a bot running in another process
    try:
        other.execute("SELECT COUNT(*) FROM users").fetchone()
        with pytest.raises(FileInUseError):
            await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="asked")
    finally:
        other.close()
    assert mgr.path_for(GUILD).exists()
    assert await _receipts(mgr) == []


async def _writer(mgr: GuildDatabaseManager, guild_id: int, count: int, written: list[int]) -> None:
    for seq in range(count):
        async with mgr.connect(guild_id) as db:
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", (seq + 1, seq))
        written.append(seq + 1)
        await asyncio.sleep(0)


@pytest.mark.asyncio
@pytest.mark.parametrize("max_open", [1, 2, 64])
async def test_deletion_with_commands_in_flight_loses_nothing_elsewhere_and_resurrects_nothing(
        tmp_path: Path, max_open: int) -> None:
    async with GuildDatabaseManager(tmp_path / "dbs", max_open=max_open) as mgr:
        total = 300
        written: dict[int, list[int]] = {GUILD: [], OTHER: [], 7373: []}
        tasks = [asyncio.create_task(_writer(mgr, g, total, w)) for g, w in written.items()]
        while len(written[GUILD]) < total // 3:
            await asyncio.sleep(0.001)
        deletion = await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="in flight")
        await asyncio.gather(*tasks)
        async with mgr.connect(GUILD) as db:
            survivors = [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM user_xp ORDER BY 1")]
        for guild_id in (OTHER, 7373):
            async with mgr.connect(guild_id) as db:
                rows = await db.execute_fetchall("SELECT discord_id FROM user_xp ORDER BY 1")
            assert [r[0] for r in rows] == list(range(1, total + 1))
    assert 0 < deletion.rows_deleted < total
    # the new file holds exactly the writes that came after the deletion: none from before
    assert survivors == list(range(deletion.rows_deleted + 1, total + 1))


def test_an_interrupted_deletion_is_finished_and_its_stale_wal_removed(tmp_path: Path) -> None:
    (tmp_path / f".{GUILD}.sqlite3.deleting-ab12cd34").write_bytes(b"old")
    (tmp_path / f"{GUILD}.sqlite3-wal").write_bytes(b"old frames")
    (tmp_path / f"{GUILD}.sqlite3-shm").write_bytes(b"old index")
    (tmp_path / f"{OTHER}.sqlite3").write_bytes(b"")
    (tmp_path / f"{OTHER}.sqlite3-wal").write_bytes(b"live")
    finished = finish_interrupted_deletions(tmp_path)
    assert finished == [f"{GUILD}.sqlite3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{OTHER}.sqlite3", f"{OTHER}.sqlite3-wal"]


@pytest.mark.asyncio
async def test_deleting_one_guild_leaves_the_others_untouched(mgr: GuildDatabaseManager) -> None:
    for guild_id in (GUILD, OTHER):
        async with mgr.connect(guild_id) as db:
            await populate(db)
    async with mgr.connect(OTHER) as db:
        before = await db.execute_fetchall("SELECT * FROM users ORDER BY 1")
    await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="asked")
    async with mgr.connect(OTHER) as db:
        assert [tuple(r) for r in await db.execute_fetchall("SELECT * FROM users ORDER BY 1")] == \
            [tuple(r) for r in before]
    assert mgr.guild_ids_on_disk() == [OTHER]


def test_a_guilds_own_sweep_leaves_other_guilds_deletions_alone(tmp_path: Path) -> None:
    (tmp_path / f".{OTHER}.sqlite3.deleting-ab12cd34").write_bytes(b"in progress")
    (tmp_path / f"{OTHER}.sqlite3-wal").write_bytes(b"being renamed")
    assert finish_interrupted_deletions(tmp_path, f"{GUILD}.sqlite3") == []
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.asyncio
async def test_concurrent_deletions_of_many_guilds_all_complete(mgr: GuildDatabaseManager) -> None:
    guilds = list(range(100, 112))
    for guild_id in guilds:
        async with mgr.connect(guild_id) as db:
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)")
    done = await asyncio.gather(*(delete_guild(mgr, g, requested_by=OPERATOR_CLI, reason="bulk")
                                  for g in guilds))
    assert sorted(d.guild_id for d in done) == guilds
    assert mgr.guild_ids_on_disk() == []
    assert [p.name for p in mgr.root.iterdir()] == ["bot-wide.sqlite3"] or \
        all(p.name.startswith("bot-wide") for p in mgr.root.iterdir())
    assert len(await _receipts(mgr)) == len(guilds)


@pytest.mark.asyncio
async def test_the_receipt_counts_the_bytes_there_were_not_those_the_deletions_own_lock_made(
        mgr: GuildDatabaseManager) -> None:
    # the deletion locks the file before removing it; opening an empty file writes its first page and a WAL
    # file gets a -shm: the receipt must say what the server had, not what the lock added
    path = mgr.path_for(GUILD)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")

    deletion = await delete_guild(mgr, GUILD, requested_by=OPERATOR_CLI, reason="asked")

    assert deletion.bytes_deleted == 0 and not path.exists()
