"""An output directory that already holds data for a guild being split: stop, never merge-guess."""
from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.ids import BOT_FILE_NAME, guild_file_name
from app.db.native import skip_checkpoint_on_close
from app.errors import LegacySplitConflictError, LegacySplitError
from app.legacy import SplitOptions, split_legacy
from tests.db.helpers import build_guild_file
from tests.legacy.helpers import HOME, rows, snapshot


def _touch_guild(out: Path, guild_id: int, write: str | None) -> None:
    async def go() -> None:
        async with GuildDatabaseManager(out, max_open=1) as manager:
            async with manager.connect(guild_id) as db:
                if write:
                    await db.execute(write)
            async with manager.connect_bot():
                pass

    asyncio.run(go())


def test_existing_guild_file_with_data_stops_the_split(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    _touch_guild(out, HOME, "INSERT INTO users (discord_id, username) VALUES (1, 'someone')")
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    legacy_before, files = snapshot(legacy), sorted(p.name for p in legacy.parent.iterdir())
    with pytest.raises(LegacySplitConflictError) as caught:
        split_legacy(SplitOptions(legacy, out))
    assert guild_file_name(HOME) in caught.value.user_message
    assert "users: 1 row(s)" in caught.value.user_message
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert snapshot(legacy) == legacy_before and sorted(p.name for p in legacy.parent.iterdir()) == files


def test_data_free_guild_and_bot_files_built_by_the_bot_are_filled(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    _touch_guild(out, HOME, None)
    report = split_legacy(SplitOptions(legacy, out))
    assert report.status == "split"
    assert rows(out / guild_file_name(HOME), "SELECT count(*) FROM users") == rows(legacy, "SELECT count(*) FROM users")
    assert rows(out / BOT_FILE_NAME, "SELECT count(*) FROM bot_settings") == [(2,)]
    assert rows(out / BOT_FILE_NAME, "SELECT count(*) FROM bot_meta") == [(1,)]


def test_bot_wide_file_already_holding_settings_is_a_conflict(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    _touch_guild(out, HOME, None)
    conn = sqlite3.connect(out / BOT_FILE_NAME)
    conn.execute("INSERT INTO bot_settings VALUES ('prefix', '?')")
    conn.commit()
    conn.close()
    with pytest.raises(LegacySplitConflictError) as caught:
        split_legacy(SplitOptions(legacy, out))
    assert BOT_FILE_NAME in caught.value.user_message
    assert not (out / ".legacy-split").exists()


def test_a_damaged_backup_stops_the_split_and_leaves_no_trace(legacy: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import app.legacy.splitter as splitter

    def fails(path: Path, *, quick: bool = False) -> None:
        raise LegacySplitError(f"The backup {path.name} fails SQLite's integrity check (test).")

    monkeypatch.setattr(splitter, "check_integrity", fails)
    out = tmp_path / "guild_dbs"
    files = sorted(p.name for p in legacy.parent.iterdir())
    with pytest.raises(LegacySplitError):
        split_legacy(SplitOptions(legacy, out))
    assert not any(out.glob("*.sqlite3")) and not (out / ".legacy-split").exists()
    assert sorted(p.name for p in legacy.parent.iterdir()) == files
    shutil.rmtree(out, ignore_errors=True)


def test_a_table_mapped_global_is_created_in_an_existing_bot_wide_file(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    _touch_guild(out, HOME, None)
    conn = sqlite3.connect(quirky)
    with conn:
        conn.execute("CREATE TABLE feature_flags (name TEXT, value TEXT)")
        conn.executemany("INSERT INTO feature_flags VALUES (?, ?)", [(f"f{i}", "on") for i in range(25)])
    conn.close()
    report = split_legacy(SplitOptions(quirky, out, maps=("giveaway_entries=skip", "feature_flags=global")))
    assert report.tables["feature_flags"].written == 25
    assert rows(out / BOT_FILE_NAME, "SELECT count(*) FROM feature_flags") == [(25,)]
    columns = [r[1] for r in rows(out / BOT_FILE_NAME, "PRAGMA table_info(feature_flags)")]
    assert columns == ["name", "value"]


def test_a_guild_file_with_changes_left_in_its_wal_is_a_conflict(legacy: Path, tmp_path: Path) -> None:
    """The bot keeps a closed file's -wal (no checkpoint on close): the split must not replace its file."""
    out = tmp_path / "guild_dbs"

    build_guild_file(out, HOME)
    # A bot that stopped without its shutdown checkpoint (killed) leaves the changes in the -wal.
    conn = sqlite3.connect(out / guild_file_name(HOME), isolation_level=None)
    assert skip_checkpoint_on_close(conn)
    conn.execute("INSERT INTO users (discord_id, username) VALUES (1, 'gone')")
    conn.execute("DELETE FROM users")
    conn.close()
    wal = out / (guild_file_name(HOME) + "-wal")
    leftover = wal.stat().st_size if wal.exists() else 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(LegacySplitConflictError) as caught:
        split_legacy(SplitOptions(legacy, out))
    assert leftover > 0
    assert "-wal" in caught.value.user_message
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
