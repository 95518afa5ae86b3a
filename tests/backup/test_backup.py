"""Backups: online and consistent, incremental, deleted guilds dropped, verified restores in and beside the bot."""
from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.backup import backup_folder, restore_files, restore_guild
from app.backup.generations import generations, latest_generation, read_manifest
from app.cli import main
from app.db import GuildDatabaseManager
from app.rights.guild_delete import remove_guild_files
from tests.backup.helpers import users_in

GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222
T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def add_user(manager: GuildDatabaseManager, guild_id: int, user_id: int) -> None:
    async with manager.connect(guild_id) as db, db.transaction():
        await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (user_id, f"u{user_id}"))


async def two_guilds(root: Path) -> None:
    """Guilds A and B under `root`, user 1 in each."""
    async with GuildDatabaseManager(root) as manager:
        await add_user(manager, GUILD_A, 1)
        await add_user(manager, GUILD_B, 1)


@pytest.mark.asyncio
async def test_backup_while_the_bot_writes_is_a_consistent_verified_copy(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    async with GuildDatabaseManager(root) as manager:
        await add_user(manager, GUILD_A, 1)
        async with manager.connect_bot():
            pass
        stop = asyncio.Event()

        async def keep_writing() -> int:
            n = 2
            while not stop.is_set():
                await add_user(manager, GUILD_A, n)
                n += 1
                await asyncio.sleep(0)
            return n

        writer = asyncio.create_task(keep_writing())
        report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
        stop.set()
        written = await writer
    copy = report.generation / f"{GUILD_A}.sqlite3"
    assert sorted(report.copied) == sorted([copy.name, "bot-wide.sqlite3"])
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    got = users_in(copy)
    assert got == set(range(1, max(got) + 1)) and max(got) < written  # a prefix of the commits: consistent
    entry = read_manifest(report.generation)[copy.name]
    assert entry.size == copy.stat().st_size and len(entry.sha256) == 64
    assert not copy.with_name(copy.name + "-wal").exists()


@pytest.mark.asyncio
async def test_backups_are_incremental_drop_deleted_guilds_and_expire(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    await two_guilds(root)
    first = backup_folder(root, out, retention_days=2, now=T0)
    assert len(first.copied) == 2
    async with GuildDatabaseManager(root) as manager:
        await add_user(manager, GUILD_A, 2)
    second = backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=1))
    assert second.copied == [f"{GUILD_A}.sqlite3"] and second.linked == [f"{GUILD_B}.sqlite3"]
    assert (second.generation / f"{GUILD_B}.sqlite3").stat().st_ino == \
        (first.generation / f"{GUILD_B}.sqlite3").stat().st_ino

    remove_guild_files(root / f"{GUILD_B}.sqlite3")  # deleted by its admins, or purged
    third = backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=2))
    assert third.dropped == [f"{GUILD_B}.sqlite3"]
    assert not (third.generation / f"{GUILD_B}.sqlite3").exists()
    assert third.pruned == []  # the first is exactly 2 days old: kept
    fourth = backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=2, seconds=1))
    assert fourth.pruned == [first.generation.name]
    assert not any((g / f"{GUILD_B}.sqlite3").exists() for g in generations(out)[2:])
    assert [g for g in generations(out) if (g / f"{GUILD_B}.sqlite3").exists()] == [second.generation]
    last = backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=3, seconds=1))
    assert last.pruned == [second.generation.name]  # BACKUP_RETENTION_DAYS after its deletion: gone everywhere
    assert not any((g / f"{GUILD_B}.sqlite3").exists() for g in generations(out))


@pytest.mark.asyncio
async def test_restore_in_the_bots_process_waits_for_work_and_keeps_newer_files(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    async with GuildDatabaseManager(root) as manager:
        await add_user(manager, GUILD_A, 1)
        report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
        await asyncio.sleep(0.01)
        await add_user(manager, GUILD_A, 2)

        kept = await restore_guild(manager, report.generation, GUILD_A)
        assert kept.outcome == "kept newer"
        async with manager.connect(GUILD_A) as db:  # a lease in flight: the restore waits for it
            restoring = asyncio.create_task(restore_guild(manager, report.generation, GUILD_A, force=True))
            await asyncio.sleep(0.05)
            assert not restoring.done()
            assert len(await db.execute_fetchall("SELECT * FROM users")) == 2
        assert (await restoring).outcome == "restored"
        async with manager.connect(GUILD_A) as db:
            assert [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users")] == [1]


@pytest.mark.asyncio
async def test_restore_beside_a_running_bot_writes_into_its_open_files_and_refuses_bad_copies(
        tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    async with GuildDatabaseManager(root) as bot:
        await add_user(bot, GUILD_A, 1)
        await add_user(bot, GUILD_B, 1)
        report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
        await add_user(bot, GUILD_A, 2)
        assert bot.is_open(GUILD_A)  # the bot keeps its connections open: written into, not swapped
        results = await asyncio.to_thread(restore_files, root, report.generation, guild_id=GUILD_A, force=True)
        assert [r.outcome for r in results] == ["restored"]
        async with bot.connect(GUILD_A) as db:
            assert [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users")] == [1]
    tampered = report.generation / f"{GUILD_B}.sqlite3"
    data = bytearray(tampered.read_bytes())
    data[-1] ^= 0xFF
    tampered.unlink()  # a hard link may be shared with another generation: write a new file
    tampered.write_bytes(bytes(data))
    results = restore_files(root, report.generation, guild_id=GUILD_B, force=True)
    assert results[0].outcome == "invalid" and "SHA-256" in results[0].detail
    (root / f"{GUILD_A}.sqlite3").unlink()
    for side in ("-wal", "-shm"):
        (root / f"{GUILD_A}.sqlite3{side}").unlink(missing_ok=True)
    assert restore_files(root, report.generation, guild_id=GUILD_A)[0].outcome == "restored"
    assert users_in(root / f"{GUILD_A}.sqlite3") == {1}


def _folder_for_the_cli(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GUILD_DBS_DIR at `root`, where guild A has user 7."""
    async def create() -> None:
        async with GuildDatabaseManager(root) as manager:
            await add_user(manager, GUILD_A, 7)

    asyncio.run(create())
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))


def test_backup_and_restore_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    _folder_for_the_cli(root, monkeypatch)
    assert main(["backup", "--out", str(out), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["copied"] == [f"{GUILD_A}.sqlite3"]
    assert latest_generation(out) == Path(made["backup"])
    assert main(["restore", "--from", str(out), "--guild", str(GUILD_A), "--json"]) == 0  # unchanged: restored
    assert json.loads(capsys.readouterr().out)["files"][0]["outcome"] == "restored"
    assert main(["restore", "--from", str(tmp_path / "nothing")]) == 1
    assert "There is no backup" in capsys.readouterr().err

    shutil.rmtree(root)  # the disk is lost: restore everything into a new folder
    assert main(["restore", "--from", str(out)]) == 0
    assert "1 of 1 file(s) restored" in capsys.readouterr().out
    assert users_in(root / f"{GUILD_A}.sqlite3") == {7}


def test_privacy_text_says_how_long_backups_keep_a_deleted_guild() -> None:
    from app.extensions._data_rights_text import privacy_embed

    fields = {f.name: f.value for f in privacy_embed(30, 30, backup_retention_days=7).fields}
    assert "for at most 7 days" in fields["Backups"]
    assert "fresh copy within a minute" in fields["Backups"] and "cloud storage alike" in fields["Backups"]


@pytest.mark.asyncio
async def test_a_file_sqlite_cannot_read_is_left_out_and_named_and_the_rest_is_backed_up(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    await two_guilds(root)
    first = backup_folder(root, out, retention_days=0, now=T0)
    damaged = root / f"{GUILD_B}.sqlite3"
    damaged.write_bytes(b"\x8f" * 8192)  # a disk fault, a stray file: not a database any more

    second = backup_folder(root, out, retention_days=0, now=T0 + timedelta(days=1))

    assert second.linked == [f"{GUILD_A}.sqlite3"] and second.copied == []  # unchanged since the first
    assert [name for name, _ in second.failed] == [f"{GUILD_B}.sqlite3"]
    assert "not a database" in second.failed[0][1]
    assert set(read_manifest(second.generation)) == {f"{GUILD_A}.sqlite3"}
    assert second.dropped == []  # its guild is not gone: only unreadable
    assert not [p for p in second.generation.iterdir() if p.name.endswith(".partial")]
    # the last good copy of the damaged guild stays, whatever the retention says
    assert second.pruned == [] and users_in(first.generation / f"{GUILD_B}.sqlite3") == {1}
    assert second.held == {first.generation.name: [f"{GUILD_B}.sqlite3"]}



@pytest.mark.asyncio
async def test_a_file_that_stays_unreadable_keeps_only_its_own_last_good_copy_past_retention(tmp_path: Path) -> None:
    # One damaged file must not stop every later run from pruning: the retention promise (a deleted guild
    # or an erased member gone from backups after BACKUP_RETENTION_DAYS) holds for everything else.
    root, out = tmp_path / "dbs", tmp_path / "backups"
    await two_guilds(root)
    first = backup_folder(root, out, retention_days=2, now=T0)  # A and B, both readable
    (root / f"{GUILD_B}.sqlite3").write_bytes(b"\x8f" * 8192)
    remove_guild_files(root / f"{GUILD_A}.sqlite3")  # A deleted by its admins after the first backup

    runs = [backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=d)) for d in (1, 3, 4)]

    assert all([name for name, _ in r.failed] == [f"{GUILD_B}.sqlite3"] for r in runs)
    held = first.generation / f"{GUILD_B}.sqlite3"
    assert users_in(held) == {1}  # B's last good copy stays, whatever the retention says
    assert set(read_manifest(first.generation)) == {f"{GUILD_B}.sqlite3"}  # and nothing else of that generation
    assert not (first.generation / f"{GUILD_A}.sqlite3").exists()  # A: gone from backups after retention
    assert runs[1].held == {first.generation.name: [f"{GUILD_B}.sqlite3"]}
    assert [g.name for g in generations(out)] == [first.generation.name, runs[1].generation.name,
                                                 runs[2].generation.name]  # the run of day 1: pruned
    (tmp_path / "elsewhere").mkdir()
    restored = restore_files(tmp_path / "elsewhere", first.generation, guild_id=GUILD_B)
    assert [r.outcome for r in restored] == ["restored"]


def test_a_restore_does_not_bring_back_a_guild_deleted_after_the_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from app.rights.guild_delete import delete_guild

    root, out = tmp_path / "dbs", tmp_path / "backups"
    _folder_for_the_cli(root, monkeypatch)
    assert main(["backup", "--out", str(out)]) == 0

    async def delete_a() -> None:
        async with GuildDatabaseManager(root) as manager:
            await delete_guild(manager, GUILD_A, requested_by="admin", reason="GDPR request")

    asyncio.run(delete_a())
    capsys.readouterr()

    assert main(["restore", "--from", str(out), "--json"]) == 0  # the rest restored; A's deletion stands
    outcomes = {f["name"]: f["outcome"] for f in json.loads(capsys.readouterr().out)["files"]}
    assert outcomes[f"{GUILD_A}.sqlite3"] == "deleted"
    assert not (root / f"{GUILD_A}.sqlite3").exists()
    assert main(["restore", "--from", str(out), "--guild", str(GUILD_A)]) == 1  # asked for by name: still refused
    assert "deleted after this backup" in capsys.readouterr().out
    assert not (root / f"{GUILD_A}.sqlite3").exists()
    assert main(["restore", "--from", str(out), "--guild", str(GUILD_A), "--force"]) == 0  # the operator insists
    assert users_in(root / f"{GUILD_A}.sqlite3") == {7}


def test_a_restore_erases_again_the_members_erased_after_the_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from app.rights.fanout import forget_user

    root, out = tmp_path / "dbs", tmp_path / "backups"
    _folder_for_the_cli(root, monkeypatch)  # guild A holds user 7

    async def add_8_then_back_up_then_forget_8() -> None:
        async with GuildDatabaseManager(root) as manager:
            await add_user(manager, GUILD_A, 8)
        assert main(["backup", "--out", str(out)]) == 0
        async with GuildDatabaseManager(root) as manager:
            await forget_user(manager, 8)

    asyncio.run(add_8_then_back_up_then_forget_8())
    remove_guild_files(root / f"{GUILD_A}.sqlite3")  # a lost disk: the backup is all there is
    capsys.readouterr()

    assert main(["restore", "--from", str(out), "--json"]) == 0
    files = {f["name"]: f for f in json.loads(capsys.readouterr().out)["files"]}
    assert users_in(root / f"{GUILD_A}.sqlite3") == {7}  # 8 asked to be forgotten after the backup: still is
    assert files[f"{GUILD_A}.sqlite3"]["outcome"] == "restored"
    assert "1 member erasure made since the backup applied again" in files[f"{GUILD_A}.sqlite3"]["detail"]

def test_the_backup_command_names_a_file_it_could_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    _folder_for_the_cli(root, monkeypatch)
    (root / f"{GUILD_B}.sqlite3").write_bytes(b"\x8f" * 8192)

    assert main(["backup", "--out", str(out), "--json"]) == 1
    captured = capsys.readouterr()
    made = json.loads(captured.out)
    assert made["copied"] == [f"{GUILD_A}.sqlite3"]
    assert [f["name"] for f in made["failed"]] == [f"{GUILD_B}.sqlite3"]
    assert made["held"] == {}  # no older backup holds a good copy of it
    assert captured.err.strip().splitlines() == [
        f"1 file(s) could not be read and were left out of {made['backup']}: {GUILD_B}.sqlite3; "
        "run `python -m app db check`."]


@pytest.mark.asyncio
async def test_restore_in_the_bots_process_run_twice_says_unchanged(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    async with GuildDatabaseManager(root) as manager:
        await add_user(manager, GUILD_A, 1)
        report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
        async with manager.exclusive(GUILD_A) as path:
            remove_guild_files(path)  # lost
        await asyncio.sleep(0.01)

        first = await restore_guild(manager, report.generation, GUILD_A)
        await asyncio.sleep(0.01)
        again = await restore_guild(manager, report.generation, GUILD_A)

    assert (first.outcome, again.outcome) == ("restored", "unchanged")
    assert users_in(root / f"{GUILD_A}.sqlite3") == {1}
