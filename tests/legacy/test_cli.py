"""scripts/split_legacy_db.py: --json, --dry-run, --map, exit codes and one-sentence errors."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.legacy.cli import main
from tests.legacy.helpers import HOME, SCRIPT, snapshot


def test_json_report_has_tables_guilds_manifest_and_seconds(legacy: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(legacy), "--out", str(tmp_path / "guild_dbs"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"tables", "guilds", "manifest", "seconds"} <= payload.keys()
    assert set(payload["tables"]["invites"]) >= {"read", "written", "quarantined", "skipped"}
    assert HOME in payload["guilds"]
    assert Path(payload["manifest"]).is_file()


def test_dry_run_shows_the_plan_and_writes_nothing(legacy: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "guild_dbs"
    before, files = snapshot(legacy), sorted(p.name for p in legacy.parent.iterdir())
    code = main([str(legacy), "--out", str(out), "--dry-run", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["status"] == "dry-run"
    assert payload["plan"]["destinations"][str(HOME)]["users"] == payload["tables"]["users"]["read"]
    assert payload["plan"]["bot_wide"]["manga_cache"] > 0
    assert not out.exists()
    assert snapshot(legacy) == before and sorted(p.name for p in legacy.parent.iterdir()) == files


def test_dry_run_lists_unknown_tables_and_quarantined_rows_and_exits_non_zero(
        quirky: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(quirky), "--out", str(tmp_path / "guild_dbs"), "--dry-run", "--json"])
    captured = capsys.readouterr()
    plan = json.loads(captured.out)["plan"]
    assert code == 1
    assert plan["unknown_tables"] == {"giveaway_entries": ["guild_id", "user_id", "prize"]}
    assert plan["quarantined_rows"] == {"invite_uses": 3, "user_xp": 1}  # "lots" in an INTEGER column
    assert "giveaway_entries" in captured.err
    assert not (tmp_path / "guild_dbs").exists()


def test_bad_map_option_is_one_sentence_and_exit_1(legacy: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(legacy), "--out", str(tmp_path / "o"), "--map", "invites=somewhere"])
    err = capsys.readouterr().err
    assert code == 1
    assert "TABLE=guild:COLUMN|home|global|skip" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_home_guild_is_a_clear_error(legacy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(legacy)
    conn.execute("DELETE FROM bot_settings WHERE key = 'default_guild'")
    conn.commit()
    conn.close()
    code = main([str(legacy), "--out", str(tmp_path / "guild_dbs")])
    err = capsys.readouterr().err
    assert code == 1
    assert "--home-guild" in err
    assert not (tmp_path / "guild_dbs").exists()
    assert main([str(legacy), "--out", str(tmp_path / "guild_dbs"), "--home-guild", str(HOME)]) == 0


def test_not_a_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "database.db"
    bogus.write_text("hello")
    assert main([str(bogus), "--out", str(tmp_path / "o")]) == 1
    assert "not an SQLite database" in capsys.readouterr().err


def test_script_runs_as_a_thin_wrapper(legacy: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(legacy), "--out", str(tmp_path / "g"), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "split"
    again = subprocess.run([sys.executable, str(SCRIPT), str(legacy), "--out", str(tmp_path / "g")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0
    assert "nothing changed" in again.stdout


def test_an_output_path_that_is_a_file_is_one_sentence_and_changes_nothing(
        legacy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "guild_dbs"
    blocker.write_text("not a directory")
    files = sorted(p.name for p in legacy.parent.iterdir())
    assert main([str(legacy), "--out", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert "file error" in err and "Traceback" not in err
    assert sorted(p.name for p in legacy.parent.iterdir()) == files


def test_out_and_home_default_to_guild_dbs_dir_and_home_guild_id(legacy: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "from_env"))
    monkeypatch.setenv("HOME_GUILD_ID", "1234567890")
    assert main([str(legacy), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["home_guild_id"] == 1234567890
    assert (tmp_path / "from_env" / "1234567890.sqlite3").is_file()


def test_an_empty_file_is_said_to_be_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "database.db"
    empty.write_bytes(b"")
    assert main([str(empty), "--out", str(tmp_path / "o")]) == 1
    assert "is empty (0 bytes): there is nothing in it to read." in capsys.readouterr().err
    assert empty.read_bytes() == b"" and not (tmp_path / "o").exists()
