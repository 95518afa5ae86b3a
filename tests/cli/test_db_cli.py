from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from tests.db.helpers import build_v1_file

REPO = Path(__file__).resolve().parents[2]


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUILD_DBS_DIR": str(root), "MAX_OPEN_GUILD_DBS": "2"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


async def _make_guilds(root: Path, *guild_ids: int) -> None:
    async with GuildDatabaseManager(root, max_open=2) as manager:
        for guild_id in guild_ids:
            async with manager.connect(guild_id) as db:
                await db.execute("INSERT INTO users (discord_id, username) VALUES (1, 'aki')")
        async with manager.connect_bot():
            pass


@pytest.mark.asyncio
async def test_guild_list_and_info_show_what_is_on_disk(tmp_path: Path) -> None:
    await _make_guilds(tmp_path, 11, 12)
    (tmp_path / "notes.txt").write_text("not a guild")
    listed = json.loads(run_cli(tmp_path, "guild", "list", "--json").stdout)
    info = json.loads(run_cli(tmp_path, "guild", "info", "12", "--json").stdout)
    text = run_cli(tmp_path, "guild", "list").stdout
    assert [g["guild_id"] for g in listed["guilds"]] == [11, 12]
    assert info["schema_version"] == 3 and info["tables"]["users"] == 1 and info["tables"]["user_xp"] == 0
    assert "2 guild file(s)" in text


@pytest.mark.parametrize(("bad", "problem"), [
    ("abc", "'abc' is not a Discord server id (digits only)."),
    ("0", "0 is not a Discord server id (a positive 64-bit integer)."),
    ("-5", "'-5' is not a Discord server id (digits only)."),
    ("99999999999999999999", "99999999999999999999 is not a Discord server id (a positive 64-bit integer)."),
    ("1; DROP TABLE users", "'1; DROP TABLE users' is not a Discord server id (digits only)."),
    ("١٢٣", "'١٢٣' is not a Discord server id (digits only)."),
])
def test_guild_info_refuses_a_malformed_id_with_one_sentence(tmp_path: Path, bad: str, problem: str) -> None:
    result = run_cli(tmp_path, "guild", "info", bad)
    assert result.returncode == 1
    assert result.stderr == problem + "\n"
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_guild_info_of_a_guild_without_a_file_fails_clearly(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "guild", "info", "424242")
    assert result.returncode == 1
    assert "424242.sqlite3" in result.stderr


def test_db_migrate_brings_old_files_forward_and_skips_current_ones(tmp_path: Path) -> None:
    build_v1_file(tmp_path, 21)
    build_v1_file(tmp_path, 22)
    first = json.loads(run_cli(tmp_path, "db", "migrate", "--json").stdout)
    second = json.loads(run_cli(tmp_path, "db", "migrate", "--json").stdout)
    conn = sqlite3.connect(tmp_path / "21.sqlite3")
    xp = conn.execute("SELECT COUNT(*) FROM user_xp").fetchone()[0]
    conn.close()
    assert [g["result"] for g in first["guilds"]] == ["migrated", "migrated"]
    assert [g["result"] for g in second["guilds"]] == ["current", "current"]
    assert xp == 3


@pytest.mark.asyncio
async def test_db_check_fails_when_a_file_is_damaged(tmp_path: Path) -> None:
    await _make_guilds(tmp_path, 31, 32)
    healthy = run_cli(tmp_path, "db", "check", "--json")
    (tmp_path / "32.sqlite3").write_bytes(b"\x00garbage" * 512)
    damaged = run_cli(tmp_path, "db", "check", "--json")
    report = json.loads(damaged.stdout)
    assert healthy.returncode == 0 and json.loads(healthy.stdout)["checked"] == 3
    assert damaged.returncode == 1 and report["failed"] == 1
    assert [f["name"] for f in report["files"] if not f["ok"]] == ["32.sqlite3"]
    assert report["sqlite_version"] == sqlite3.sqlite_version


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every command and group under `parser`, by its full name ("guild info")."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(_commands(sub, f"{prefix}{name} "))
    return found


def test_every_cli_command_has_help() -> None:
    from app.cli import build_parser

    commands = _commands(build_parser())
    assert {"run", "guild list", "guild info", "db migrate", "db check", "user forget"} <= set(commands)
    assert [name for name, sub in commands.items() if not sub.description] == []


def _old_page_file(root: Path, guild_id: int, rows: int = 30) -> Path:
    """A guild file with 4 KiB pages and the current schema, as the template built it before 1 KiB pages."""
    from tests.db.test_convert import build_old_file

    root.mkdir(parents=True, exist_ok=True)
    return build_old_file(root, guild_id, rows=rows)


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_db_migrate_converts_old_page_sizes_once(tmp_path: Path) -> None:
    build_v1_file(tmp_path, 21)  # version 1 and 4 KiB pages: migrated, then converted
    _old_page_file(tmp_path, 22)  # current version, 4 KiB pages: converted only
    await _make_guilds(tmp_path, 23)  # current in every way: not touched
    untouched = (tmp_path / "23.sqlite3").stat().st_mtime_ns
    first = run_cli(tmp_path, "db", "migrate", "--json")
    second = run_cli(tmp_path, "db", "migrate", "--json")
    text = run_cli(tmp_path, "db", "migrate")
    report, again = json.loads(first.stdout), json.loads(second.stdout)
    assert first.returncode == 0, first.stderr
    assert report["page_size"] == 1024 and report["converted"] == 2 and report["conversion_skipped"] == []
    by_id = {g["guild_id"]: g for g in report["guilds"]}
    assert [by_id[g]["conversion"] for g in (21, 22, 23)] == ["converted", "converted", "current"]
    assert by_id[21]["result"] == "migrated" and by_id[22]["result"] == "current"
    assert by_id[22]["page_size_before"] == 4096 and by_id[22]["bytes_after"] < by_id[22]["bytes_before"]
    assert report["bytes_after"] < report["bytes_before"] and report["seconds"] >= 0
    assert again["converted"] == 0 and {g["conversion"] for g in again["guilds"]} == {"current"}
    assert "0 converted" in text.stdout
    assert [_page_size(tmp_path / f"{g}.sqlite3") for g in (21, 22, 23)] == [1024, 1024, 1024]
    assert (tmp_path / "23.sqlite3").stat().st_mtime_ns == untouched
    conn = sqlite3.connect(tmp_path / "22.sqlite3")
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 30
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    conn = sqlite3.connect(tmp_path / "21.sqlite3")
    assert conn.execute("SELECT count(*) FROM user_xp").fetchone()[0] == 3
    conn.close()


def test_db_migrate_skips_a_file_another_process_holds_and_says_why(tmp_path: Path) -> None:
    _old_page_file(tmp_path, 31)
    _old_page_file(tmp_path, 32)
    holder = sqlite3.connect(tmp_path / "32.sqlite3")  # as a running bot holds a guild it serves
    holder.execute("SELECT count(*) FROM users").fetchone()
    try:
        result = run_cli(tmp_path, "db", "migrate", "--json")
    finally:
        holder.close()
    report = json.loads(result.stdout)
    assert result.returncode == 1 and "32.sqlite3" not in result.stdout.split('"guilds"')[0]
    assert report["converted"] == 1
    assert report["conversion_skipped"] == [
        {"name": "32.sqlite3", "outcome": "busy", "reason": report["conversion_skipped"][0]["reason"]}]
    assert "another" in report["conversion_skipped"][0]["reason"]
    assert "run db migrate again" in result.stderr
    assert [_page_size(tmp_path / f"{g}.sqlite3") for g in (31, 32)] == [1024, 4096]
    assert json.loads(run_cli(tmp_path, "db", "migrate", "--json").stdout)["converted"] == 1  # resumes


def test_db_migrate_converts_only_this_shard_blocks_files(tmp_path: Path) -> None:
    mine, theirs = 21, 1 << 22  # shard 0 and shard 1 of 2
    _old_page_file(tmp_path, mine)
    _old_page_file(tmp_path, theirs)
    env = {**os.environ, "GUILD_DBS_DIR": str(tmp_path), "MAX_OPEN_GUILD_DBS": "2",
           "SHARD_IDS": "0", "SHARD_COUNT": "2"}
    result = subprocess.run([sys.executable, "-m", "app", "db", "migrate", "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert [g["guild_id"] for g in report["guilds"]] == [mine] and report["converted"] == 1
    assert _page_size(tmp_path / f"{mine}.sqlite3") == 1024
    assert _page_size(tmp_path / f"{theirs}.sqlite3") == 4096
