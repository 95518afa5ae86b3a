"""Converting existing files to the template's page size: verified, in place, safe beside a running bot."""
from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.db.convert import convert_file, header_page_size
from app.db.files import build_file
from app.db.fleet import table_counts
from app.db.ids import guild_file_name
from app.db.schema import BOT_SCHEMA, GUILD_SCHEMA

REPO = Path(__file__).resolve().parents[2]
OLD_GUILD_SCHEMA = dataclasses.replace(GUILD_SCHEMA, page_size=4096)


def build_old_file(root: Path, guild_id: int, *, rows: int = 40) -> Path:
    """A guild file as the 4 KiB-page template built it, with rows in a few tables (some still in its -wal)."""
    path = root / guild_file_name(guild_id)
    build_file(path, OLD_GUILD_SCHEMA, guild_id)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", [(m, m * 7) for m in range(1, rows + 1)])
    conn.executemany("INSERT INTO users (discord_id, username) VALUES (?, ?)",
                     [(m, f"member {m} " + "x" * 300) for m in range(1, rows + 1)])
    conn.close()
    return path


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return table_counts(conn)
    finally:
        conn.close()


def _pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def _folder(root: Path) -> list[str]:
    """The folder's files, less the -wal and -shm any reader may leave (a -journal or a copy stays listed)."""
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_an_old_file_is_converted_in_place_keeping_every_row(tmp_path: Path) -> None:
    path = build_old_file(tmp_path, 5)
    before = _counts(path)
    inode = path.stat().st_ino
    result = convert_file(path, GUILD_SCHEMA, identity=5)
    assert result.outcome == "converted", result.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["5.sqlite3"]  # no copy, no side file left behind
    assert (result.page_size_before, result.page_size_after) == (4096, 1024)
    assert result.bytes_after < result.bytes_before
    assert header_page_size(path) == 1024 and _pragma(path, "page_size") == 1024
    assert _pragma(path, "integrity_check") == "ok" and _pragma(path, "journal_mode") == "wal"
    assert _counts(path) == before and before["users"] == 40 and before["user_xp"] == 40
    assert path.stat().st_ino == inode  # rewritten in place: a descriptor another process holds stays valid
    assert path.stat().st_mode & 0o777 == 0o600
    again = convert_file(path, GUILD_SCHEMA, identity=5)
    assert again.outcome == "current" and again.bytes_after == again.bytes_before


@pytest.mark.asyncio
async def test_a_converted_file_opens_in_the_manager(tmp_path: Path) -> None:
    build_old_file(tmp_path, 6)
    assert convert_file(tmp_path / "6.sqlite3", GUILD_SCHEMA, identity=6).outcome == "converted"
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager, manager.connect(6) as db:
        assert (await db.execute_fetchall("SELECT count(*) FROM users"))[0][0] == 40
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (999, 1)")
        assert (await db.execute_fetchall("PRAGMA page_size"))[0][0] == 1024


def test_a_file_open_in_another_connection_is_skipped_at_once(tmp_path: Path) -> None:
    path = build_old_file(tmp_path, 7)
    holder = sqlite3.connect(path)  # a running bot's connection: it has read the file and stays open
    holder.execute("SELECT count(*) FROM users").fetchone()
    try:
        start = time.monotonic()
        result = convert_file(path, GUILD_SCHEMA, identity=7, lock_wait_s=0.2)
        elapsed = time.monotonic() - start
        assert holder.execute("SELECT count(*) FROM users").fetchone()[0] == 40
    finally:
        holder.close()
    assert result.outcome == "busy" and "another" in result.detail
    assert elapsed < 5
    assert header_page_size(path) == 4096 and _folder(tmp_path) == ["7.sqlite3"]


def test_a_file_of_another_guild_or_damaged_is_left_as_it_is(tmp_path: Path) -> None:
    wrong = build_old_file(tmp_path, 8)
    assert convert_file(wrong, GUILD_SCHEMA, identity=9).outcome == "damaged"
    assert header_page_size(wrong) == 4096
    broken = tmp_path / "10.sqlite3"
    broken.write_bytes(b"\x00garbage" * 512)
    result = convert_file(broken, GUILD_SCHEMA, identity=10)
    assert result.outcome == "damaged" and result.detail
    assert broken.read_bytes() == b"\x00garbage" * 512
    assert _folder(tmp_path) == ["10.sqlite3", "8.sqlite3"]


def test_a_failure_after_the_copy_is_built_leaves_the_original_and_no_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.db import convert

    path = build_old_file(tmp_path, 11)
    before = _counts(path)

    def refuse(copy: sqlite3.Connection, target: sqlite3.Connection) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(convert, "_copy_back", refuse)
    result = convert_file(path, GUILD_SCHEMA, identity=11)
    assert result.outcome == "failed" and "No space left" in result.detail
    assert _folder(tmp_path) == ["11.sqlite3"]
    assert _counts(path) == before and header_page_size(path) == 4096
    assert _pragma(path, "journal_mode") == "wal" and _pragma(path, "integrity_check") == "ok"


_CRASH_MID_COPY = """
import os, sys
from pathlib import Path
import app  # the bot's SQLite engine
from app.db import convert
from app.db.schema import GUILD_SCHEMA

def crash_mid_copy(copy, target):
    target.execute("PRAGMA cache_size = 1")  # spill: pages reach the file before the commit
    def die(status, remaining, total):
        if total - remaining > 8:
            os._exit(9)  # a power cut halfway through writing the file
    copy.backup(target, pages=1, progress=die)

convert._copy_back = crash_mid_copy
convert.convert_file(Path(sys.argv[1]), GUILD_SCHEMA, identity=12)
"""


@pytest.mark.asyncio
async def test_a_crash_halfway_through_the_rewrite_leaves_the_original(tmp_path: Path) -> None:
    path = build_old_file(tmp_path, 12, rows=400)
    before = _counts(path)
    crashed = subprocess.run([sys.executable, "-c", _CRASH_MID_COPY, str(path)], cwd=REPO,
                             capture_output=True, text=True, timeout=50)
    assert crashed.returncode == 9, crashed.stderr
    assert path.with_name(path.name + "-journal").exists()  # the rewrite had begun: a hot journal
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager:
        assert manager.guild_ids_on_disk() == [12]  # a leftover copy is never taken for a guild
        async with manager.connect(12) as db:  # opening rolls the journal back
            assert (await db.execute_fetchall("PRAGMA integrity_check"))[0][0] == "ok"
            assert (await db.execute_fetchall("SELECT count(*) FROM users"))[0][0] == 400
    assert _counts(path) == before and header_page_size(path) == 4096
    result = convert_file(path, GUILD_SCHEMA, identity=12)  # the next run converts it
    assert result.outcome == "converted", result.detail
    assert _counts(path) == before and _folder(tmp_path) == ["12.sqlite3"]


def test_the_bot_wide_file_is_converted_only_if_its_page_size_differs(tmp_path: Path) -> None:
    path = tmp_path / "bot-wide.sqlite3"
    build_file(path, BOT_SCHEMA, None)
    assert convert_file(path, BOT_SCHEMA, identity=None).outcome == "current"
    small = dataclasses.replace(BOT_SCHEMA, page_size=1024)
    result = convert_file(path, small, identity=None)
    assert result.outcome == "converted", result.detail
    assert header_page_size(path) == 1024 and _folder(tmp_path) == ["bot-wide.sqlite3"]


def test_the_header_page_size_reads_64_kib(tmp_path: Path) -> None:
    path = tmp_path / "big.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size = 65536")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert header_page_size(path) == 65536
    (tmp_path / "short").write_bytes(b"SQLite format 3\x00")
    assert header_page_size(tmp_path / "short") is None
