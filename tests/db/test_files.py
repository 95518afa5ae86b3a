from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.db import files as db_files
from app.errors import DatabaseQuarantinedError, ResourceLimitError

REPO = Path(__file__).resolve().parents[2]
INSERT_XP = "INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)"


@pytest.mark.asyncio
async def test_failure_during_creation_leaves_no_file_and_the_next_open_succeeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(db_files.os, "fsync", broken_fsync)
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    with pytest.raises(OSError):
        async with manager.connect(77) as db:
            await db.execute(INSERT_XP)  # the first write builds the file
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.undo()
    async with manager.connect(77) as db:
        await db.execute(INSERT_XP)
        (row,) = await db.execute_fetchall("SELECT guild_id FROM guild_meta")
    await manager.close_all()
    assert leftovers == []
    assert row[0] == 77


@pytest.mark.asyncio
async def test_process_killed_mid_build_leaves_no_real_file_and_next_open_succeeds(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, os
        from pathlib import Path
        from app.db import GuildDatabaseManager
        from app.db import files
        files.os.fsync = lambda fd: os._exit(9)   # the process dies after writing, before the rename
        async def main():
            async with GuildDatabaseManager(Path({str(tmp_path)!r}), max_open=2) as m:
                async with m.connect(88) as db:
                    await db.execute({INSERT_XP!r})
        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60)
    after_crash = sorted(p.name for p in tmp_path.iterdir())
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    async with manager.connect(88) as db:
        await db.execute(INSERT_XP)
        (row,) = await db.execute_fetchall("SELECT guild_id FROM guild_meta")
    await manager.close_all()
    assert proc.returncode == 9
    assert "88.sqlite3" not in after_crash
    assert any(name.startswith(".88.sqlite3.building-") for name in after_crash)
    assert row[0] == 88
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".88")) == []


@pytest.mark.asyncio
async def test_garbage_file_is_quarantined_not_deleted(tmp_path: Path) -> None:
    garbage = tmp_path / "123.sqlite3"
    garbage.write_bytes(b"this is not a database, just some notes\n" * 200)
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    with pytest.raises(DatabaseQuarantinedError) as caught:
        async with manager.connect(123):
            pass
    moved = tmp_path / caught.value.quarantined_as
    async with manager.connect(123) as db:  # the next command starts from a fresh file
        (fresh,) = await db.execute_fetchall("SELECT guild_id FROM guild_meta")
    await manager.close_all()
    assert moved.read_bytes().startswith(b"this is not a database")
    assert "set aside" in caught.value.user_message
    assert fresh[0] == 123


@pytest.mark.asyncio
async def test_file_of_another_guild_is_refused(tmp_path: Path) -> None:
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    async with manager.connect(1) as db:
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (5, 50)")
    await manager.close_all()
    (tmp_path / "1.sqlite3").rename(tmp_path / "2.sqlite3")
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    with pytest.raises(DatabaseQuarantinedError) as caught:
        async with manager.connect(2):
            pass
    await manager.close_all()
    kept = sqlite3.connect(tmp_path / caught.value.quarantined_as)
    rows = kept.execute("SELECT discord_id, xp FROM user_xp").fetchall()
    kept.close()
    assert "another server" in caught.value.user_message
    assert rows == [(5, 50)]


@pytest.mark.asyncio
async def test_sqlite_file_without_our_meta_table_is_quarantined(tmp_path: Path) -> None:
    foreign = sqlite3.connect(tmp_path / "5.sqlite3")
    foreign.execute("CREATE TABLE notes (body TEXT)")
    foreign.commit()
    foreign.close()
    manager = GuildDatabaseManager(tmp_path, max_open=2)
    with pytest.raises(DatabaseQuarantinedError):
        async with manager.connect(5):
            pass
    await manager.close_all()
    assert not (tmp_path / "5.sqlite3").exists()
    assert len(list(tmp_path.glob("5.sqlite3.quarantined-*"))) == 1


def test_template_user_version_equals_the_code_schema_version() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(GUILD_SCHEMA.sql_path.read_text())
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    meta = conn.execute("SELECT schema_version FROM guild_meta").fetchone()[0]
    conn.close()
    assert version == meta == GUILD_SCHEMA.version == max(m.version for m in GUILD_SCHEMA.migrations())


def test_a_max_open_beyond_the_open_files_limit_is_refused_with_both_numbers() -> None:
    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))
        from app.db.limits import ensure_fd_budget
        ensure_fd_budget(1000)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert ResourceLimitError.__name__ in proc.stderr
    assert "MAX_OPEN_GUILD_DBS=1000" in proc.stderr and "at most 200" in proc.stderr


def test_soft_open_files_limit_is_raised_when_the_hard_limit_allows() -> None:
    script = textwrap.dedent("""
        import resource
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, hard))
        from app.db.limits import ensure_fd_budget
        needed = ensure_fd_budget(1000)
        print(resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ})
    assert proc.stdout.strip() == "True", proc.stderr


@settings(max_examples=30, deadline=None)
@given(guild_id=st.one_of(st.sampled_from([1, 2**47, 2**63 - 1]), st.integers(min_value=1, max_value=2**63 - 1)))
def test_a_built_file_is_a_sound_wal_database_naming_its_guild(guild_id: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{guild_id}.sqlite3"
        db_files.build_file(path, GUILD_SCHEMA, guild_id)
        conn = sqlite3.connect(path)
        try:
            checks = (conn.execute("PRAGMA integrity_check").fetchone()[0],
                      conn.execute("PRAGMA journal_mode").fetchone()[0],
                      tuple(conn.execute("SELECT guild_id, schema_version FROM guild_meta").fetchone()))
        finally:
            conn.close()
    assert checks == ("ok", "wal", (guild_id, GUILD_SCHEMA.version))
