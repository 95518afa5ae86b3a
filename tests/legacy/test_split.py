"""The plain case: every legacy row lands once in the right file, checked and recorded."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.ids import BOT_FILE_NAME, guild_file_name
from app.legacy import SplitOptions, split_legacy
from app.legacy.digest import table_digest
from app.legacy.rules import GUILD_TABLES, HOME_TABLES
from app.legacy.testing import write_and_leave_in_wal
from tests.legacy.helpers import HOME, copy_legacy, manifest, rows, snapshot


def _legacy_guilds(legacy: Path) -> set[int]:
    return {r[0] for t in GUILD_TABLES for r in rows(legacy, f"SELECT DISTINCT guild_id FROM {t}")}


def test_split_writes_one_file_per_guild_and_balances_every_table(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))
    assert report.status == "split"
    assert set(report.guilds) == _legacy_guilds(legacy)
    assert {p.name for p in out.glob("*.sqlite3")} == {guild_file_name(g) for g in report.guilds} | {BOT_FILE_NAME}
    for name, counts in report.tables.items():
        assert counts.read == rows(legacy, f'SELECT count(*) FROM "{name}"')[0][0]
        assert counts.written == counts.read and counts.quarantined == counts.skipped == 0
    home = out / guild_file_name(HOME)
    assert rows(home, "SELECT count(*) FROM users") == rows(legacy, "SELECT count(*) FROM users")
    assert rows(out / BOT_FILE_NAME, "SELECT count(*) FROM manga_cache") == rows(
        legacy, "SELECT count(*) FROM manga_cache")
    assert not (out / ".legacy-split").exists()


def test_guild_rows_go_only_to_their_guild_without_guild_id(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))
    other = next(g for g in report.guilds if g != HOME)
    got = rows(out / guild_file_name(other), "SELECT code, inviter_id, uses FROM invites ORDER BY code")
    want = rows(legacy, "SELECT code, inviter_id, uses FROM invites WHERE guild_id = ? ORDER BY code", (other,))
    assert got == want and got
    assert rows(out / guild_file_name(other), "SELECT count(*) FROM users") == [(0,)]
    columns = [r[1] for r in rows(out / guild_file_name(other), "PRAGMA table_info(invites)")]
    assert "guild_id" not in columns


def test_manifest_records_each_files_checksums_and_the_legacy_rows_are_all_there(
        legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out))
    for name, entry in manifest(out)["files"].items():
        guild_id = entry["guild_id"]
        conn = sqlite3.connect(out / name)
        try:
            for table, digest in entry["tables"].items():
                cols = [r[1] for r in rows(legacy, f"PRAGMA table_info({table})") if r[1] != "guild_id"]
                actual = table_digest(conn, "main", table, cols)
                assert (digest["rows"], digest["checksum"]) == (actual.rows, actual.checksum), table
                select = f"SELECT {', '.join(cols)} FROM {table}"
                where = "" if table in HOME_TABLES or guild_id is None else " WHERE guild_id = ?"
                params = () if not where else (guild_id,)
                assert sorted(conn.execute(select).fetchall(), key=repr) == sorted(
                    rows(legacy, select + where, params), key=repr), table
        finally:
            conn.close()


def test_guild_files_open_through_the_manager_with_their_identity(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))

    async def read() -> tuple[list[int], int]:
        async with GuildDatabaseManager(out, max_open=2) as manager:
            ids = []
            for guild_id in report.guilds:
                async with manager.connect(guild_id) as db:
                    ids.append((await db.execute_fetchall("SELECT guild_id FROM guild_meta"))[0][0])
            async with manager.connect_bot() as bot:
                settings = (await bot.execute_fetchall("SELECT count(*) FROM bot_settings"))[0][0]
        return ids, settings

    ids, settings = asyncio.run(read())
    assert ids == report.guilds
    assert settings == 2


def test_second_run_after_success_changes_nothing_and_says_so(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    backups = sorted(p.name for p in legacy.parent.iterdir())
    again = split_legacy(SplitOptions(legacy, out))
    assert again.status == "already-split"
    assert "nothing changed" in again.message
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert sorted(p.name for p in legacy.parent.iterdir()) == backups


def test_unfinished_wal_content_is_split_and_legacy_files_stay_byte_identical(legacy: Path, tmp_path: Path) -> None:
    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')")
    assert Path(f"{legacy}-wal").stat().st_size > 0
    before = snapshot(legacy)
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))
    assert snapshot(legacy) == before
    assert rows(out / BOT_FILE_NAME, "SELECT value FROM bot_settings WHERE key = 'last_write'") == [("in the wal",)]
    assert report.backup is not None
    assert rows(report.backup, "SELECT value FROM bot_settings WHERE key = 'last_write'") == [("in the wal",)]


def test_backup_sits_next_to_the_legacy_file_and_is_a_complete_database(legacy: Path, tmp_path: Path) -> None:
    report = split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs"))
    assert report.backup is not None and report.backup.parent == legacy.parent
    assert report.backup.name.startswith("database.db.backup-")
    assert rows(report.backup, "PRAGMA integrity_check") == [("ok",)]
    assert rows(report.backup, "SELECT count(*) FROM user_manga_progress") == rows(
        legacy, "SELECT count(*) FROM user_manga_progress")


def test_large_splits_check_and_checksum_in_a_second_process_with_the_same_result(
        legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.legacy.splitter as splitter

    (tmp_path / "twin").mkdir()
    twin = copy_legacy(legacy, tmp_path / "twin" / "database.db")
    inline = split_legacy(SplitOptions(twin, tmp_path / "twin" / "guild_dbs"))
    monkeypatch.setattr(splitter, "PARALLEL_MIN_ROWS", 0)
    parallel = split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs"))
    assert parallel.tables == inline.tables
    assert manifest(tmp_path / "guild_dbs")["files"] == manifest(tmp_path / "twin" / "guild_dbs")["files"]
