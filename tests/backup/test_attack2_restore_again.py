"""A restore run again over what it put in place says "unchanged" (a success) also when what it put in place was
not the backup's copy itself but a private copy of it changed first (erasures made since, an older schema
migrated); and a copy this code cannot open is never put in place."""
from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from app.backup import backup_folder, restore_guild
from app.backup.copy import sha256_of
from app.backup.generations import read_manifest
from app.cli import main
from app.db import GuildDatabaseManager
from app.db.schema import GUILD_SCHEMA
from tests.backup.helpers import add_users, users_in
from tests.backup.test_restore_receipts import GUILD_A, erase_in_one_guild, folders, name, restore  # noqa: F401
from tests.features.test_attack_reading_days import _to_v2, _version


def _generation(out: Path) -> Path:
    [generation] = [p for p in out.iterdir() if p.is_dir()]
    return generation


def test_the_same_restore_run_twice_after_an_erasure_says_unchanged(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    root, out = folders
    assert main(["backup", "--out", str(out)]) == 0
    asyncio.run(erase_in_one_guild(root, GUILD_A, 7))
    (root / name(GUILD_A)).unlink()  # lost

    first = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))
    time.sleep(0.01)
    again = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))

    assert first.code == 0 and first.files[name(GUILD_A)]["outcome"] == "restored", first
    assert again.code == 0 and again.files[name(GUILD_A)]["outcome"] == "unchanged", again
    assert users_in(root / name(GUILD_A)) == {8}


def test_the_same_restore_of_an_older_schema_run_twice_says_unchanged(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    root, out = folders
    _to_v2(root / name(GUILD_A))
    assert main(["backup", "--out", str(out)]) == 0
    (root / name(GUILD_A)).unlink()

    first = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))
    time.sleep(0.01)
    again = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))

    assert first.files[name(GUILD_A)]["outcome"] == "restored" and _version(root / name(GUILD_A)) == 3
    assert again.code == 0 and again.files[name(GUILD_A)]["outcome"] == "unchanged", again


@pytest.mark.asyncio
async def test_in_the_bots_process_a_restore_with_an_erasure_run_twice_says_unchanged(
        tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    await add_users(root, GUILD_A, 7, 8)
    report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
    await erase_in_one_guild(root, GUILD_A, 7)
    (root / name(GUILD_A)).unlink()
    await asyncio.sleep(0.01)
    async with GuildDatabaseManager(root) as manager:
        first = await restore_guild(manager, report.generation, GUILD_A)
        await asyncio.sleep(0.01)
        again = await restore_guild(manager, report.generation, GUILD_A)

    assert (first.outcome, again.outcome) == ("restored", "unchanged")


def _as_newer_bot(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA user_version = {GUILD_SCHEMA.version + 1}")
        conn.execute("UPDATE guild_meta SET schema_version = ?", (GUILD_SCHEMA.version + 1,))
    finally:
        conn.close()


def test_a_copy_of_a_newer_schema_than_this_code_is_not_put_in_place(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    # A backup made by a newer bot (the code was rolled back since): put in place, the bot refuses the file
    # ("newer than this bot's"), so the restore would have turned a readable guild into an unreadable one.
    root, out = folders
    live = root / name(GUILD_A)
    _as_newer_bot(live)
    assert main(["backup", "--out", str(out)]) == 0
    copy = _generation(out) / name(GUILD_A)
    _to_v2(live)  # the rolled-back bot's own file, readable by it
    kept = sha256_of(live)

    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_A), "--force")

    assert ran.code == 1 and ran.files[name(GUILD_A)]["outcome"] == "invalid", ran
    assert "newer" in ran.files[name(GUILD_A)]["detail"], ran
    assert sha256_of(live) == kept and sha256_of(copy) == read_manifest(_generation(out))[name(GUILD_A)].sha256


def test_a_migration_that_fails_puts_nothing_in_place_and_leaves_the_backups_copy(
        folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    root, out = folders
    live = root / name(GUILD_A)
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA user_version = 2")  # says 2, yet holds reading_days: migration 0003 fails half-way
    conn.close()
    assert main(["backup", "--out", str(out)]) == 0
    live.unlink()

    ran = restore(capsys, "--from", str(out), "--guild", str(GUILD_A))

    assert ran.code == 1 and ran.files[name(GUILD_A)]["outcome"] == "invalid", ran
    assert not live.exists()
    copy = _generation(out) / name(GUILD_A)
    assert sha256_of(copy) == read_manifest(_generation(out))[name(GUILD_A)].sha256
