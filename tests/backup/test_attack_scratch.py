"""Attacks on the held, swept scratch folders (app/scratch.py) that restores and the bot-packed export now use."""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import app.scratch
from app.backup import backup_folder, restore_files, restore_guild
from app.db import GuildDatabaseManager
from app.rights.fanout import forget_user
from tests.backup.helpers import add_users, users_in

GUILD = 111_111_111_111_111_111


def _backup_then_forget(root: Path, out: Path) -> Path:
    asyncio.run(add_users(root, GUILD, 7, 8))
    generation = backup_folder(root, out, retention_days=30).generation

    async def forget_8() -> None:
        async with GuildDatabaseManager(root) as manager:
            await forget_user(manager, 8)

    asyncio.run(forget_8())
    (root / f"{GUILD}.sqlite3").unlink()  # lost: the restore copies the backup and erases 8 from the copy
    return generation


def test_a_tmpdir_that_can_be_written_but_not_listed_still_lets_a_restore_run(
        tmp_path: Path, tmpdir_: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # TMPDIR of mode 1733 for a non-root user (checked as `nobody`: tempfile makes folders there, os.listdir
    # raises EACCES); this suite runs as root, whom no mode stops, so the refusal is raised here by hand
    root = tmp_path / "dbs"
    generation = _backup_then_forget(root, tmp_path / "backups")
    listing = Path.iterdir

    def unlistable(self: Path) -> Iterator[Path]:
        if self == tmpdir_:
            raise PermissionError(13, "Permission denied", str(self))
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", unlistable)

    [result] = restore_files(root, generation, guild_id=GUILD)

    assert result.outcome == "restored"
    assert users_in(root / f"{GUILD}.sqlite3") == {7}


@pytest.mark.asyncio
async def test_restore_guild_in_the_bots_loop_sweeps_tmpdir_off_the_event_loop(
        tmp_path: Path, tmpdir_: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "dbs"
    generation = await asyncio.to_thread(_backup_then_forget, root, tmp_path / "backups")
    left = tmpdir_ / "legacy-read-killed"  # what a split killed with -9 left: a copy of the legacy database
    left.mkdir()
    os.utime(left, (time.time() - 3600, time.time() - 3600))
    sweeps: list[threading.Thread] = []
    stale = app.scratch._stale

    def recorded(folder: Path) -> bool:
        sweeps.append(threading.current_thread())
        return stale(folder)

    monkeypatch.setattr(app.scratch, "_stale", recorded)
    async with GuildDatabaseManager(root) as manager:
        result = await restore_guild(manager, generation, GUILD)

    assert result.outcome == "restored" and users_in(root / f"{GUILD}.sqlite3") == {7}
    assert sweeps and threading.main_thread() not in sweeps
    assert not left.exists()
