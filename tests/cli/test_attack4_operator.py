"""Operator commands attacked a fourth time: outputs aimed into GUILD_DBS_DIR, an empty id, and `db migrate`
against files that are not the guild's own. One sentence on stderr, a non-zero exit, nothing changed."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.db import GUILD_SCHEMA
from app.db.files import build_file

REPO = Path(__file__).resolve().parents[2]


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUILD_DBS_DIR": str(root), "PYTHONPATH": str(REPO),
           "LEGACY_DB": str(root.parent / "no-legacy.db")}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=root.parent, env=env,
                          capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in lines[0] and lines[0].endswith(".")
    return lines[0]


def names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("target", ["999.sqlite3", "bot-wide.sqlite3", "notes.zip", "sub/x.sqlite3", "."])
@pytest.mark.parametrize("fmt", ["sqlite", "json"])
def test_guild_export_never_writes_into_the_guild_folder(folder: Path, target: str, fmt: str) -> None:
    # 999.sqlite3 would be a new guild's file holding guild 41's data; bot-wide.sqlite3 a guild file
    # standing in for the bot-wide one, which every receipt and restore then fails to read
    before = names(folder)
    line = one_line(run_cli(folder, "guild", "export", "41", "--format", fmt, "--out", str(folder / target),
                            "--json"))
    assert "GUILD_DBS_DIR" in line
    assert names(folder) == before


def test_guild_export_sees_through_a_symlink_into_the_guild_folder(folder: Path) -> None:
    (folder.parent / "alias").symlink_to(folder)
    before = names(folder)
    line = one_line(run_cli(folder, "guild", "export", "41", "--out", str(folder.parent / "alias" / "43.sqlite3")))
    assert "GUILD_DBS_DIR" in line
    assert names(folder) == before


@pytest.mark.parametrize("command", [["user", "export", "5", "--out"], ["backup", "--out"]])
@pytest.mark.parametrize("target", [".", "exports"])
def test_folder_outputs_never_go_into_the_guild_folder(folder: Path, command: list[str], target: str) -> None:
    before = names(folder)
    line = one_line(run_cli(folder, *command, str(folder / target), "--json"))
    assert "GUILD_DBS_DIR" in line
    assert names(folder) == before


def test_outputs_beside_the_guild_folder_still_work(folder: Path) -> None:
    sibling = folder.parent / "guild_dbs-exports"  # a name that merely starts like the folder's
    for args in (["guild", "export", "41", "--out", str(sibling / "41.sqlite3")],
                 ["user", "export", "5", "--out", str(sibling / "user")],
                 ["backup", "--out", str(sibling / "backups")]):
        result = run_cli(folder, *args, "--json")
        assert result.returncode == 0, result.stderr
        json.loads(result.stdout)


@pytest.mark.parametrize("bad", ["", " "])
def test_guild_receipts_refuses_an_empty_id_rather_than_listing_every_guild(folder: Path, bad: str) -> None:
    line = one_line(run_cli(folder, "guild", "receipts", bad, "--json"))
    assert "is not a Discord server id" in line


@pytest.mark.parametrize(("make", "problem"), [
    ("empty", "is not a guild database"),
    ("text", "is not a readable database"),
    ("copy", "records guild 41, not 43"),
    ("newer", "newer than this bot's"),
])
def test_db_migrate_reports_a_file_that_is_not_the_guilds_and_leaves_it(folder: Path, make: str,
                                                                        problem: str) -> None:
    target = folder / "43.sqlite3"
    if make == "empty":
        target.write_bytes(b"")
    elif make == "text":
        target.write_text("not a database at all\n" * 200)
    elif make == "copy":
        shutil.copyfile(folder / "41.sqlite3", target)
    else:
        build_file(target, GUILD_SCHEMA, 43)
        conn = sqlite3.connect(target)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
    content = target.read_bytes()
    before = names(folder)
    result = run_cli(folder, "db", "migrate", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    entry = {g["guild_id"]: g for g in report["guilds"]}[43]
    assert entry["result"] == "failed" and problem in entry["error"]
    assert report["failed"] == 1 and report["current"] == 2
    assert names(folder) == before  # nothing set aside: the operator is told, the bot decides at its open
    assert target.read_bytes() == content


def test_backup_leaves_out_a_guild_deleted_while_it_runs_without_failing(
        folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # `guild delete 42` lands between the backup's listing and its copy of 42.sqlite3: a deletion, not damage
    import app.backup.generations as generations
    from app.cli import main

    real_copy = generations.online_copy

    def deleted_first(source: Path, target: Path) -> None:
        if source.name == "42.sqlite3":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{source}{suffix}").unlink(missing_ok=True)
        real_copy(source, target)

    monkeypatch.setattr(generations, "online_copy", deleted_first)
    monkeypatch.setenv("GUILD_DBS_DIR", str(folder))
    monkeypatch.setenv("LEGACY_DB", str(folder.parent / "no-legacy.db"))
    code = main(["backup", "--out", str(folder.parent / "backups"), "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, captured.err
    assert report["failed"] == [] and report["copied"] == ["41.sqlite3"]
    assert not (folder / "42.sqlite3").exists()


@pytest.mark.parametrize("args", [["--count", "٤"], ["--count", "4", "--from-count", "٢"],
                                  ["--count", "4", "--blocks", "２"]])
def test_shards_plan_reads_counts_as_ascii_digits_as_every_id_is_read(folder: Path, args: list[str]) -> None:
    result = run_cli(folder, "shards", "plan", *args, "--json")
    line = one_line(result)
    assert result.returncode == 2 and "is not a whole number" in line and result.stdout == ""


@pytest.mark.parametrize("reason", ["x" * 5000, "first line\nsecond line", "tab\there", ""])
def test_guild_delete_refuses_a_reason_no_receipt_can_show_and_deletes_nothing(folder: Path, reason: str) -> None:
    result = run_cli(folder, "guild", "delete", "41", "--yes", "--reason", reason, "--json")
    line = one_line(result)
    assert result.returncode == 2 and "--reason" in line
    assert (folder / "41.sqlite3").is_file() and not (folder / "bot-wide.sqlite3").exists()


def test_guild_delete_keeps_an_ordinary_odd_reason_as_written(folder: Path) -> None:
    reason = "'); DROP TABLE deletion_receipts;-- zoë 名無し 🌸"
    result = run_cli(folder, "guild", "delete", "41", "--yes", "--reason", reason, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["receipt"]["reason"] == reason
    receipts = json.loads(run_cli(folder, "guild", "receipts", "41", "--json").stdout)["receipts"]
    assert [r["reason"] for r in receipts] == [reason]
