"""Item 11: what holds members' data is created 0600 in 0700 folders, whatever the umask."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.config import Settings
from app.db import GuildDatabaseManager
from app.legacy.launch import split_at_launch
from app.legacy.testing import build_legacy_db, write_and_leave_in_wal
from app.rights.journal import Journal
from tests.legacy.helpers import HOME
from tests.rights.conftest import populate


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: 0644 files, 0755 folders
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_split_leaves_only_private_files(tmp_path: Path) -> None:
    legacy = tmp_path / "old" / "database.db"
    legacy.parent.mkdir()
    build_legacy_db(legacy, users=10, guilds=3, seed=5)
    conn = sqlite3.connect(legacy)
    with conn:
        conn.execute("INSERT INTO users (discord_id, username, anilist_id) VALUES (5, 'x', 'n/a')")
    conn.close()
    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('k', 'v')")
    settings = Settings(guild_dbs_dir=tmp_path / "guild_dbs", legacy_db=legacy)
    report = split_at_launch(settings)
    assert report is not None and report.quarantine is not None and report.backup is not None
    [kept] = legacy.parent.glob("database.db.split-*[0-9]Z")
    for path in (report.backup, report.quarantine, kept, Path(f"{kept}-wal"),
                 settings.guild_dbs_dir / f"{HOME}.sqlite3", settings.guild_dbs_dir / "legacy-split-manifest.json"):
        assert _mode(path) == 0o600, path.name
    assert _mode(settings.guild_dbs_dir) == 0o700


def test_exports_and_journals_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "dbs"
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))

    async def build() -> None:
        async with GuildDatabaseManager(root, max_open=1) as manager, manager.connect(HOME) as db:
            await populate(db, n=1)
    asyncio.run(build())
    for fmt in ("sqlite", "json"):
        out = tmp_path / f"exports-{fmt}" / "guild.out"
        assert main(["guild", "export", str(HOME), "--out", str(out), "--format", fmt]) == 0
        assert _mode(out) == 0o600 and _mode(out.parent) == 0o700
    assert main(["user", "export", "1001", "--out", str(tmp_path / "member")]) == 0
    assert _mode(tmp_path / "member") == 0o700
    assert [_mode(p) for p in (tmp_path / "member").iterdir()] == [0o600] * 2  # guild file + summary
    journal = Journal(tmp_path / "jobs" / ".forget-1001.journal")
    journal.append({"guild_id": HOME, "state": "started"})
    assert _mode(journal.path) == 0o600 and _mode(journal.path.parent) == 0o700
