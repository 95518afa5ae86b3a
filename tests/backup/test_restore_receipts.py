"""A restore never undoes a deletion or an erasure: whatever the timing, whichever file is restored, and whether
or not the live bot-wide file can be read."""
from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.backup import backup_folder, restore_files, restore_guild
from app.backup.copy import sha256_of
from app.backup.receipts import Receipts, moment
from app.cli import main
from app.db import GuildDatabaseManager, registry
from app.rights.fanout import forget_user
from app.rights.guild_delete import delete_guild, remove_guild_files
from app.rights.member import erase_member
from app.rights.receipts import create_receipt, list_receipts
from tests.backup.helpers import add_users, users_in

GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222
GUILD_C = 333_333_333_333_333_333
BOT = "bot-wide.sqlite3"


def name(guild_id: int) -> str:
    return f"{guild_id}.sqlite3"


def receipts_in(root: Path) -> list[tuple[str, int, int | None]]:
    conn = sqlite3.connect(root / BOT)
    try:
        return conn.execute("SELECT scope, guild_id, user_id FROM deletion_receipts ORDER BY id").fetchall()
    finally:
        conn.close()


async def erase_in_one_guild(root: Path, guild_id: int, user_id: int) -> None:
    """What /my-data delete does in one server: the rows, then the receipt."""
    async with GuildDatabaseManager(root) as manager:
        async with manager.connect(guild_id) as db:
            await erase_member(db, user_id)
        async with manager.connect_bot() as bot_db:
            await create_receipt(bot_db, scope="member", guild_id=guild_id, user_id=user_id,
                                 requested_by=f"discord:{user_id}", reason="/my-data delete")


async def delete(root: Path, guild_id: int) -> None:
    async with GuildDatabaseManager(root) as manager:
        await delete_guild(manager, guild_id, requested_by="admin", reason="asked")


@dataclass(frozen=True)
class Restore:
    code: int
    files: dict[str, dict[str, str]]  # each file's object of --json, by name
    err: str


def restore(capsys: pytest.CaptureFixture[str], *args: str) -> Restore:
    capsys.readouterr()
    code = main(["restore", *args, "--json"])
    out, err = capsys.readouterr()
    return Restore(code, {f["name"]: f for f in json.loads(out)["files"]} if out else {}, err)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """GUILD_DBS_DIR (guild A holds users 7 and 8, guild B user 8) and a backup folder."""
    root, out = tmp_path / "dbs", tmp_path / "backups"
    asyncio.run(add_users(root, GUILD_A, 7, 8))
    asyncio.run(add_users(root, GUILD_B, 8))
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    return root, out


def test_a_forced_whole_restore_keeps_every_receipt_and_brings_back_no_deleted_guild(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # --force over everything used to put back the bot-wide file of the backup: the receipts made since were
    # gone, and the next restore brought the erased member and the deleted guild back without a word.
    root, out = folders
    assert main(["backup", "--out", str(out)]) == 0

    async def forget_8_then_delete_b() -> None:
        async with GuildDatabaseManager(root) as manager:
            await forget_user(manager, 8)
        await delete(root, GUILD_B)

    asyncio.run(forget_8_then_delete_b())
    receipts = receipts_in(root)

    for _ in range(2):  # the second restore finds every receipt the first one read
        ran = restore(capsys, "--from", str(out), "--force")
        assert ran.code == 0
        assert users_in(root / name(GUILD_A)) == {7}
        assert ran.files[name(GUILD_B)]["outcome"] == "deleted" and "--guild" in ran.files[name(GUILD_B)]["detail"]
        assert not (root / name(GUILD_B)).exists()
        assert ran.files[BOT]["outcome"] == "restored"
        assert receipts_in(root) == receipts
    assert "4 deletion receipts newer than the backup kept" in ran.files[BOT]["detail"]  # 8 in A, in B, everywhere

    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_B), "--force")  # asked for by name
    assert ran.code == 0 and users_in(root / name(GUILD_B)) == set()  # back, and 8's erasure applied again


def test_with_the_bot_wide_file_lost_the_backups_receipts_still_count(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, out = folders
    first = backup_folder(root, out, retention_days=30)
    asyncio.run(delete(root, GUILD_B))
    asyncio.run(erase_in_one_guild(root, GUILD_A, 8))
    backup_folder(root, out, retention_days=30)  # its bot-wide copy holds both receipts
    shutil.rmtree(root)  # the disk is lost

    ran = restore(capsys, "--from", str(first.generation))  # the older backup, which still has B

    assert ran.code == 0
    assert ran.files[name(GUILD_B)]["outcome"] == "deleted" and not (root / name(GUILD_B)).exists()
    assert users_in(root / name(GUILD_A)) == {7}
    assert [scope for scope, *_ in receipts_in(root)] == ["guild", "member"]  # the restored file has them


def test_a_damaged_live_bot_wide_file_stops_the_restore_before_anything_changes(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, out = folders
    assert main(["backup", "--out", str(out)]) == 0
    asyncio.run(delete(root, GUILD_B))
    (root / BOT).write_bytes(b"\x8f" * 8192)  # its receipts (B's deletion) can no longer be read
    remove_guild_files(root / name(GUILD_A))

    ran = restore(capsys, "--from", str(out))

    assert ran.code == 1 and ran.files == {}
    assert "bot-wide.sqlite3 cannot be read" in ran.err and ran.err.count("\n") == 1
    assert not (root / name(GUILD_A)).exists() and not (root / name(GUILD_B)).exists()
    (root / BOT).rename(root / "bot-wide.sqlite3.damaged")  # what the sentence says to do
    ran = restore(capsys, "--from", str(out))
    assert ran.code == 0 and ran.files[name(GUILD_A)]["outcome"] == "restored"
    assert ran.files[name(GUILD_B)]["outcome"] == "restored"  # nothing left to tell: B's receipt was in that file


def test_a_guild_deleted_then_added_back_keeps_its_new_file_unless_named_with_force(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, out = folders
    assert main(["backup", "--out", str(out)]) == 0
    asyncio.run(delete(root, GUILD_A))
    asyncio.run(add_users(root, GUILD_A, 9))  # the bot added back, and written to

    ran = restore(capsys, "--from", str(out), "--force")
    assert ran.code == 0 and ran.files[name(GUILD_A)]["outcome"] == "deleted"
    assert users_in(root / name(GUILD_A)) == {9}
    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))
    assert ran.code == 1 and users_in(root / name(GUILD_A)) == {9}
    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_A), "--force")
    assert ran.code == 0 and users_in(root / name(GUILD_A)) == {7, 8}

    assert main(["backup", "--out", str(out)]) == 0  # a backup made after the deletion: nothing holds it back
    remove_guild_files(root / name(GUILD_A))
    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))
    assert ran.code == 0 and users_in(root / name(GUILD_A)) == {7, 8}


def test_a_member_erased_in_one_guild_is_erased_again_there_and_nowhere_else(folders: tuple[Path, Path]) -> None:
    root, out = folders
    report = backup_folder(root, out, retention_days=30)
    asyncio.run(erase_in_one_guild(root, GUILD_A, 8))
    copy = report.generation / name(GUILD_A)
    digest = sha256_of(copy)
    for guild_id in (GUILD_A, GUILD_B):
        remove_guild_files(root / name(guild_id))

    results = {r.name: r for r in restore_files(root, report.generation)}  # the library call, not only the CLI

    assert results[name(GUILD_A)].erase_again == (8,) and results[name(GUILD_B)].erase_again == ()
    assert users_in(root / name(GUILD_A)) == {7} and users_in(root / name(GUILD_B)) == {8}
    assert sha256_of(copy) == digest and users_in(copy) == {7, 8}  # the backup's own copy is left as it was


@pytest.mark.asyncio
async def test_restore_in_the_bots_process_erases_again_before_the_file_is_written(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    await add_users(root, GUILD_A, 7, 8)
    report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
    await erase_in_one_guild(root, GUILD_A, 8)
    async with GuildDatabaseManager(root) as manager:
        result = await restore_guild(manager, report.generation, GUILD_A, force=True)
        async with manager.connect(GUILD_A) as db:
            assert [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users")] == [7]
    assert result.outcome == "restored" and result.erase_again == (8,)


def test_a_restored_bot_wide_file_keeps_the_live_guild_registry(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # The backup was made while the bot had left C; it was added back since. The backup's registry would
    # start C's purge again, and the purge would delete the file of a server the bot is in.
    root, out = folders

    async def record(leave: bool) -> None:
        async with GuildDatabaseManager(root) as manager, manager.connect_bot() as bot_db:
            if leave:
                await registry.record_leave(bot_db, GUILD_C, retention_days=1)
            else:
                await registry.record_join(bot_db, GUILD_C)

    asyncio.run(record(leave=True))
    assert main(["backup", "--out", str(out)]) == 0
    asyncio.run(record(leave=False))

    ran = restore(capsys, "--from", str(out), "--force")

    assert ran.code == 0 and ran.files[BOT]["outcome"] == "restored"
    conn = sqlite3.connect(root / BOT)
    assert conn.execute("SELECT purge_after FROM guild_registry WHERE guild_id = ?", (GUILD_C,)).fetchone() == (None,)
    conn.close()


def test_receipts_in_the_copys_own_millisecond_count_as_after_it() -> None:
    receipts = Receipts()
    receipts.add(1, ("guild", GUILD_A, None, "admin", "asked", 0, 0, "2026-12-01T10:00:00.123Z"))
    receipts.add(2, ("member", GUILD_B, 8, "admin", "asked", 0, 0, "2026-12-01T10:00:00.123Z"))
    receipts.add(2, ("member", GUILD_B, 8, "admin", "asked", 0, 0, "2026-12-01T10:00:00.123Z"))  # seen twice

    same_ms = "2026-12-01T10:00:00.123999+00:00"  # the receipt may have been written after the copy began
    assert receipts.deleted_after(GUILD_A, same_ms) is not None
    assert receipts.erased_after(GUILD_B, same_ms) == (8,)
    later = "2026-12-01T10:00:00.124000+00:00"
    assert receipts.deleted_after(GUILD_A, later) is None and receipts.erased_after(GUILD_B, later) == ()
    # another offset, or none (UTC), is the same instant
    assert receipts.deleted_after(GUILD_A, "2026-12-01T12:00:00.124+02:00") is None
    assert receipts.deleted_after(GUILD_A, "2026-12-01T10:00:00.100") is not None
    assert receipts.deleted_after(GUILD_A, "not a time") is not None  # unreadable: the safe side
    assert moment("2026-12-01T10:00:00.123456Z") == datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert len(receipts.rows) == 2


@pytest.mark.asyncio
async def test_a_deletion_receipt_is_dated_once_the_file_is_gone(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Written first (a kill leaves one), it used to keep that time: a backup starting between the receipt and the
    # removal could still copy the file, look newer than the deletion, and a restore brought the guild back.
    import app.rights.guild_delete as guild_delete

    root = tmp_path / "dbs"
    await add_users(root, GUILD_A, 7)
    removed: list[datetime] = []

    def slow_removal(path: Path) -> None:
        time.sleep(0.05)  # a backup may start and copy the file meanwhile
        remove_guild_files(path)
        removed.append(datetime.now(UTC))

    monkeypatch.setattr(guild_delete, "remove_guild_files", slow_removal)
    async with GuildDatabaseManager(root) as manager:
        deletion = await delete_guild(manager, GUILD_A, requested_by="admin", reason="asked")
        async with manager.connect_bot() as bot_db:
            stored = (await list_receipts(bot_db))[0]
    assert stored.deleted_at == deletion.receipt.deleted_at
    assert moment(stored.deleted_at) >= moment(removed[0].isoformat())


def test_user_forget_reaches_a_guild_whose_file_was_missing_at_the_time(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # `user forget` wrote receipts only where it found the member: guild B's file, lost when it ran, came back
    # from the backup with the member in it.
    root, out = folders
    assert main(["backup", "--out", str(out)]) == 0
    (root / name(GUILD_B)).unlink()  # lost (a failed disk, a file set aside) while the member asks to be forgotten

    assert main(["user", "forget", "8", "--yes"]) == 0
    everywhere = [r for r in receipts_in(root) if r[1] is None]
    assert everywhere == [("member", None, 8)]  # one receipt for the request, whatever the files held

    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_B))
    assert ran.code == 0 and ran.files[name(GUILD_B)]["outcome"] == "restored"
    assert users_in(root / name(GUILD_B)) == set()
    assert "1 member erasure made since the backup applied again" in ran.files[name(GUILD_B)]["detail"]

    capsys.readouterr()
    assert main(["guild", "receipts"]) == 0
    assert "every guild" in capsys.readouterr().out


def test_a_copy_newer_than_the_user_forget_keeps_the_member_who_came_back(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, out = folders
    assert main(["user", "forget", "8", "--yes"]) == 0
    time.sleep(0.01)
    asyncio.run(add_users(root, GUILD_B, 8))  # joined again and wrote, after the erasure
    assert main(["backup", "--out", str(out)]) == 0
    (root / name(GUILD_B)).unlink()

    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_B))

    assert ran.code == 0 and users_in(root / name(GUILD_B)) == {8}


def test_the_same_restore_run_twice_says_the_file_is_already_as_in_the_backup(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, out = folders
    assert main(["backup", "--out", str(out)]) == 0
    (root / name(GUILD_B)).unlink()  # lost

    first = restore(capsys, "--from", str(out), "--guild", str(GUILD_B))
    time.sleep(0.01)
    again = restore(capsys, "--from", str(out), "--guild", str(GUILD_B))

    assert first.code == 0 and first.files[name(GUILD_B)]["outcome"] == "restored"
    assert again.code == 0 and again.files[name(GUILD_B)]["outcome"] == "unchanged"
    assert users_in(root / name(GUILD_B)) == {8}
