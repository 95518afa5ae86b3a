"""Operator commands against what a hostile operator (or a bad day) feeds them: malformed arguments, odd
files in the guild folder, files deleted while a command runs. Exactly one sentence on stderr on failure,
valid JSON on success, and nothing created, moved or deleted that should not be."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import app.cli.db as cli_db
from app.cli import main
from tests.db.helpers import build_v1_file

REPO = Path(__file__).resolve().parents[2]


def run_cli(root: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUILD_DBS_DIR": str(root), "MAX_OPEN_GUILD_DBS": "2", "PYTHONPATH": str(REPO),
           "LEGACY_DB": str(root.parent / "no-legacy.db")}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in lines[0] and "usage:" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("args", [
    ["restore", "--guild", "41"],  # --from missing
    ["shards", "plan", "--count", "abc", "--from-count", "1"],
    ["guild", "export", "41"],  # --out missing
    ["guild", "export", "41", "--out", "x", "--format", "xml"],
    ["guild", "frobnicate"],
])
def test_a_usage_error_is_one_sentence(folder: Path, args: list[str]) -> None:
    result = run_cli(folder, *args)
    line = one_line(result)
    assert result.returncode == 2 and line.startswith("python -m app") and line.endswith(".")


@pytest.mark.parametrize(("bad", "problem"), [
    ("١٢٣", "'١٢٣' is not a Discord server id (digits only)."),
    ("abc", "'abc' is not a Discord server id (digits only)."),
    ("1e3", "'1e3' is not a Discord server id (digits only)."),
    ("0", "0 is not a Discord server id (a positive 64-bit integer)."),
])
def test_restore_reads_guild_ids_as_every_other_command_does(folder: Path, bad: str, problem: str) -> None:
    result = run_cli(folder, "restore", "--from", str(folder.parent / "backups"), "--guild", bad)
    assert result.returncode == 1 and result.stderr == problem + "\n"


def test_shards_plan_names_a_zero_from_count(folder: Path) -> None:
    line = one_line(run_cli(folder, "shards", "plan", "--count", "4", "--from-count", "0"))
    assert line.startswith("--from-count must be between 1 and")


def test_backup_refuses_a_folder_with_no_database_in_it(tmp_path: Path) -> None:
    empty = tmp_path / "guild_dbs"
    empty.mkdir()
    line = one_line(run_cli(empty, "backup", "--out", str(tmp_path / "backups")))
    assert "is GUILD_DBS_DIR the right folder?" in line
    assert not (tmp_path / "backups").exists()


def _delete_after_reading(monkeypatch: pytest.MonkeyPatch, victim: int, claim_version: int | None) -> None:
    """`guild delete` running beside `db migrate`: the file goes right after migrate read its version."""
    read = cli_db.schema_version_of

    def version_then_gone(path: Path) -> int:
        version = read(path)
        if path.name == f"{victim}.sqlite3":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return claim_version if claim_version is not None else version
        return version

    monkeypatch.setattr(cli_db, "schema_version_of", version_then_gone)


@pytest.mark.parametrize("claim_version", [None, 1], ids=["current", "older"])
def test_db_migrate_goes_on_when_a_file_is_deleted_meanwhile_and_never_brings_it_back(
        folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        claim_version: int | None) -> None:
    build_v1_file(folder, 43)
    monkeypatch.setenv("GUILD_DBS_DIR", str(folder))
    _delete_after_reading(monkeypatch, 41, claim_version)
    code = main(["db", "migrate", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(g["guild_id"], g["result"]) for g in report["guilds"]] == [(42, "current"), (43, "migrated")]
    assert not (folder / "41.sqlite3").exists()


def test_exporting_a_damaged_file_fails_in_one_sentence_and_leaves_it_as_it_is(folder: Path) -> None:
    garbage = os.urandom(8192)
    (folder / "43.sqlite3").write_bytes(garbage)
    line = one_line(run_cli(folder, "guild", "export", "43", "--out", str(folder.parent / "out.sqlite3")))
    assert "43.sqlite3 is not a readable database" in line and "left as it is" in line
    assert (folder / "43.sqlite3").read_bytes() == garbage  # an export is a read: nothing set aside
    assert not [p.name for p in folder.iterdir() if ".quarantined-" in p.name]
    assert not (folder.parent / "out.sqlite3").exists()


@pytest.mark.parametrize(("make", "problem"), [
    ("copy", "records guild 41, not 43"),
    ("empty", "is not a guild database"),
    ("foreign", "is not a guild database"),
])
def test_guild_info_refuses_a_file_that_is_not_this_guilds(folder: Path, make: str, problem: str) -> None:
    target = folder / "43.sqlite3"
    if make == "copy":
        shutil.copyfile(folder / "41.sqlite3", target)
    elif make == "empty":
        target.write_bytes(b"")
    else:
        import sqlite3
        conn = sqlite3.connect(target)
        conn.execute("CREATE TABLE foo (x)")
        conn.close()
    def files() -> list[str]:  # a read-only open may add -wal/-shm beside a WAL file, as for any guild
        return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))

    before = files()
    line = one_line(run_cli(folder, "guild", "info", "43", "--json"))
    assert problem in line
    assert files() == before  # a report: nothing moved


def test_db_check_flags_a_guild_file_copied_under_another_guilds_name(folder: Path) -> None:
    shutil.copyfile(folder / "41.sqlite3", folder / "43.sqlite3")
    result = run_cli(folder, "db", "check", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["failed"] == 1
    assert [(f["name"], f["detail"]) for f in report["files"] if not f["ok"]] == [
        ("43.sqlite3", "records guild 41, not 43")]


@pytest.mark.parametrize("command", [["guild", "delete", "43", "--yes"], ["guild", "info", "43"],
                                     ["guild", "export", "43", "--out", "x.sqlite3"]])
def test_a_folder_named_like_a_guild_file_is_named_as_such(folder: Path, command: list[str]) -> None:
    (folder / "43.sqlite3").mkdir()
    line = one_line(run_cli(folder, *command, cwd=folder.parent))
    assert "43.sqlite3" in line and "not a file" in line
    assert (folder / "43.sqlite3").is_dir()


def test_export_into_a_path_under_a_file_names_the_path_given(folder: Path) -> None:
    (folder.parent / "afile").write_text("keep")
    line = one_line(run_cli(folder, "guild", "export", "41", "--out", "afile/out.sqlite3", cwd=folder.parent))
    assert "afile" in line and ".partial" not in line
    assert (folder.parent / "afile").read_text() == "keep"


@pytest.mark.parametrize("command", [["user", "forget", "5", "--yes", "--json"],
                                     ["user", "export", "5", "--out", "exported", "--json"]])
def test_a_folder_named_like_a_guild_file_does_not_stop_a_fan_out(folder: Path, command: list[str]) -> None:
    # every guild file is visited; the folder is no guild's file (as the bot-wide file is none), not a failure
    (folder / "43.sqlite3").mkdir()
    result = run_cli(folder, *command, cwd=folder.parent)

    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    assert (folder / "43.sqlite3").is_dir()
