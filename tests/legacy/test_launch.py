"""The split at launch: once, before the bot connects; the legacy file is then set aside, kept."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.db.ids import guild_file_name
from app.doubles.discord_payloads import make_token
from app.errors import LegacySplitError, UnknownLegacyTablesError, UserFacingError
from app.legacy.launch import remove_orphaned_sides, set_aside, split_at_launch
from app.legacy.testing import write_and_leave_in_wal
from tests.legacy.helpers import HOME, REPO, rows, snapshot


def _settings(legacy: Path, tmp_path: Path) -> Settings:
    return Settings(guild_dbs_dir=tmp_path / "guild_dbs", legacy_db=legacy)


def test_no_legacy_file_means_nothing_to_do(tmp_path: Path) -> None:
    assert split_at_launch(_settings(tmp_path / "database.db", tmp_path)) is None
    assert not (tmp_path / "guild_dbs").exists()



def test_an_empty_legacy_file_holds_nothing_to_split_and_is_left_alone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # `touch database.db`, or an SQLite shell opened by mistake: SQLite reads 0 bytes as an empty database
    legacy = tmp_path / "database.db"
    legacy.write_bytes(b"")
    with caplog.at_level("WARNING", logger="app.legacy.launch"):
        assert split_at_launch(_settings(legacy, tmp_path)) is None  # `run` goes on
    assert legacy.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["database.db"]
    assert "database.db is empty (0 bytes): nothing to split" in caplog.text

    from app.cli import main
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "guild_dbs"))
    assert main(["legacy", "split"]) == 0
    assert "is empty (0 bytes)" in capsys.readouterr().out


def test_an_empty_legacy_file_with_a_journal_beside_it_is_still_empty(tmp_path: Path) -> None:
    # A shell killed while creating its first table leaves 0 bytes and a hot journal whose rollback gives
    # back 0 bytes: `run` used to take it for a database, and stop, saying it was empty.
    legacy = tmp_path / "database.db"
    legacy.write_bytes(b"")
    journal = Path(f"{legacy}-journal")
    journal.write_bytes(bytes.fromhex("d9d505f920a163d7") + bytes(504))
    assert split_at_launch(_settings(legacy, tmp_path)) is None
    assert legacy.read_bytes() == b"" and journal.stat().st_size == 512  # both left as they are


def test_an_empty_legacy_file_with_a_wal_beside_it_is_split(legacy: Path, tmp_path: Path) -> None:
    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')")
    assert Path(f"{legacy}-wal").stat().st_size > 0  # its content may all be in the -wal: not empty
    report = split_at_launch(_settings(legacy, tmp_path))
    assert report is not None and report.status == "split"

def test_launch_splits_then_sets_the_legacy_file_aside_with_its_wal(legacy: Path, tmp_path: Path) -> None:
    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')")
    wal = snapshot(legacy)["-wal"]
    settings = _settings(legacy, tmp_path)
    report = split_at_launch(settings)
    assert report is not None and report.status == "split"
    assert not legacy.exists() and not Path(f"{legacy}-wal").exists() and not Path(f"{legacy}-shm").exists()
    (kept,) = legacy.parent.glob("database.db.split-*[0-9]Z")
    assert snapshot(kept)["-wal"] == wal  # the same bytes and mtime, under the new name
    assert rows(kept, "SELECT value FROM bot_settings WHERE key = 'last_write'") == [("in the wal",)]
    assert kept.name in report.message
    assert split_at_launch(settings) is None  # the next launch: nothing left to split
    assert (settings.guild_dbs_dir / guild_file_name(HOME)).is_file()


def test_failed_split_stops_the_launch_and_leaves_everything_as_it_was(quirky: Path, tmp_path: Path) -> None:
    settings = _settings(quirky, tmp_path)
    before, files = snapshot(quirky), sorted(p.name for p in quirky.parent.iterdir())
    with pytest.raises(UnknownLegacyTablesError) as caught:
        split_at_launch(settings)
    assert isinstance(caught.value, UserFacingError)
    assert "giveaway_entries" in caught.value.user_message
    assert snapshot(quirky) == before and sorted(p.name for p in quirky.parent.iterdir()) == files
    assert not settings.guild_dbs_dir.exists()


def test_launch_after_a_split_whose_rename_was_interrupted_finishes_the_rename(legacy: Path, tmp_path: Path) -> None:
    from app.legacy import SplitOptions, split_legacy

    settings = _settings(legacy, tmp_path)
    split_legacy(SplitOptions(legacy, settings.guild_dbs_dir))
    report = split_at_launch(settings)
    assert report is not None and report.status == "already-split"
    assert not legacy.exists()


def test_launch_refuses_a_legacy_file_changed_since_its_split(legacy: Path, tmp_path: Path) -> None:
    from app.legacy import SplitOptions, split_legacy

    settings = _settings(legacy, tmp_path)
    split_legacy(SplitOptions(legacy, settings.guild_dbs_dir))
    conn = sqlite3.connect(legacy)
    conn.execute("INSERT INTO bot_settings VALUES ('late', 'write')")
    conn.commit()
    conn.close()
    with pytest.raises(LegacySplitError) as caught:
        split_at_launch(settings)
    assert "changed since" in caught.value.user_message
    assert legacy.exists()


def test_side_files_orphaned_by_a_killed_set_aside_are_cleared_only_if_they_are_the_kept_ones(
        legacy: Path) -> None:
    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')")
    kept = set_aside(legacy, "20260101T000000Z")
    os.link(f"{kept}-wal", f"{legacy}-wal")  # as if killed between the unlinks
    Path(f"{legacy}-x").write_text("not ours")
    remove_orphaned_sides(legacy)
    assert not Path(f"{legacy}-wal").exists() and Path(f"{kept}-wal").exists()
    assert Path(f"{legacy}-x").exists()


def test_python_m_app_run_stops_before_connecting_when_the_split_fails(quirky: Path, tmp_path: Path) -> None:
    before = snapshot(quirky)
    env = {**os.environ, "DISCORD_TOKEN": make_token(4242), "LEGACY_DB": str(quirky),
           "GUILD_DBS_DIR": str(tmp_path / "guild_dbs")}
    done = subprocess.run([sys.executable, "-m", "app", "run"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "giveaway_entries" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(quirky) == before
    assert not (tmp_path / "guild_dbs").exists()


@pytest.mark.asyncio
async def test_the_bot_started_after_the_launch_split_serves_the_home_guilds_data(
        legacy: Path, tmp_path: Path) -> None:
    from app.sandbox.harness import running_bot

    settings = _settings(legacy, tmp_path)
    report = split_at_launch(settings)
    assert report is not None
    users = report.tables["users"].written
    async with running_bot(settings.guild_dbs_dir, guilds=[HOME], settings=settings) as harness:
        reply = await harness.command(HOME, 900_000_000_000_000_001, "server info", admin=True)
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert f"users: {users}" in next(v for k, v in fields.items() if k.startswith("Rows"))


def test_without_hard_links_the_set_aside_renames_and_a_half_done_one_is_finished(
        legacy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')")

    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    kept = set_aside(legacy, "20260101T000000Z")
    assert not legacy.exists() and Path(f"{kept}-wal").exists()
    os.rename(f"{kept}-wal", f"{legacy}-wal")  # as if killed after the main file's rename
    remove_orphaned_sides(legacy)
    assert not Path(f"{legacy}-wal").exists()
    assert rows(kept, "SELECT value FROM bot_settings WHERE key = 'last_write'") == [("in the wal",)]


def test_a_legacy_file_written_during_the_split_is_not_set_aside(legacy: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 6: the old bot still running writes after the backup; its rows would live only in the kept copy."""
    from app.legacy import launch

    real = launch.split_legacy

    def split_then_old_bot_writes(*args, **kwargs):
        report = real(*args, **kwargs)
        write_and_leave_in_wal(legacy, "INSERT INTO users (discord_id, username) VALUES (42, 'late')")
        return report

    monkeypatch.setattr(launch, "split_legacy", split_then_old_bot_writes)
    with pytest.raises(LegacySplitError) as caught:
        split_at_launch(_settings(legacy, tmp_path))
    assert "old bot still running" in caught.value.user_message
    assert legacy.exists() and not list(legacy.parent.glob("database.db.split-*"))
