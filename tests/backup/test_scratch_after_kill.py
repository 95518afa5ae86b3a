"""A restore or an export killed with -9 leaves its private copy of a guild (members erased since included) in the
temporary folder only until the next run that makes such a copy, or the bot's next launch."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.rights.fanout import forget_user
from tests.backup.helpers import add_users, users_in

GUILD = 111_111_111_111_111_111
ROOT = Path(__file__).resolve().parents[2]

PAUSED_RESTORE = """
import sys, time
import app.backup.prepare as prepare
def paused(path, user_ids, root):  # the scratch copy is made and still holds the member erased since
    print("paused", flush=True)
    time.sleep(600)
prepare.erase_members = paused
from app.cli import main
sys.exit(main(["restore", "--from", sys.argv[1], "--guild", sys.argv[2]]))
"""

PAUSED_EXPORT = """
import sys, time
from pathlib import Path
import app.rights.export as export
def paused(source, target):  # the export is written in the scratch folder, not yet packed
    print("paused", flush=True)
    time.sleep(600)
export.gzip_file = paused
export._pack(Path(sys.argv[1]), int(sys.argv[2]), 1 << 20)
"""


def _kill_when_paused(code: str, *args: str, tmpdir: Path, env: dict[str, str]) -> None:
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, **env, "TMPDIR": str(tmpdir)})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "paused"
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()


def _left(tmpdir: Path, prefix: str) -> list[Path]:
    return [p for p in tmpdir.iterdir() if p.name.startswith(prefix)]


def _a_minute_ago(tmpdir: Path) -> None:
    """No live run made these just now (a folder younger than a minute is never swept)."""
    for folder in tmpdir.iterdir():
        os.utime(folder, (time.time() - 3600, time.time() - 3600))


def test_a_restore_killed_with_minus_9_leaves_its_scratch_copy_only_until_the_next_restore(
        tmp_path: Path, tmpdir_: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    asyncio.run(add_users(root, GUILD, 7, 8))
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    assert main(["backup", "--out", str(out)]) == 0

    async def forget_8() -> None:
        async with GuildDatabaseManager(root) as manager:
            await forget_user(manager, 8)

    asyncio.run(forget_8())
    (root / f"{GUILD}.sqlite3").unlink()  # lost: the restore will copy the backup and erase 8 from the copy

    _kill_when_paused(PAUSED_RESTORE, str(out), str(GUILD), tmpdir=tmpdir_, env={"GUILD_DBS_DIR": str(root)})
    [left] = _left(tmpdir_, "guildshelf-restore-")
    assert users_in(left / f"{GUILD}.sqlite3") == {7, 8}  # the erased member, where no erasure reaches

    _a_minute_ago(tmpdir_)
    assert main(["restore", "--from", str(out), "--guild", str(GUILD)]) == 0

    assert users_in(root / f"{GUILD}.sqlite3") == {7}
    assert _left(tmpdir_, "guildshelf-restore-") == []


def test_an_export_killed_with_minus_9_leaves_its_copy_only_until_the_next_export(
        tmp_path: Path, tmpdir_: Path) -> None:
    from app.rights.export import _pack

    root = tmp_path / "dbs"
    asyncio.run(add_users(root, GUILD, 7))
    source = root / f"{GUILD}.sqlite3"
    _kill_when_paused(PAUSED_EXPORT, str(source), str(GUILD), tmpdir=tmpdir_, env={})
    [left] = _left(tmpdir_, "guildshelf-export-")
    assert users_in(left / f"guild-{GUILD}.sqlite3") == {7}

    _a_minute_ago(tmpdir_)
    packed = _pack(source, GUILD, 1 << 20)

    assert packed.data is not None and _left(tmpdir_, "guildshelf-export-") == []


def test_the_bot_launch_sweeps_what_killed_runs_left(tmp_path: Path, tmpdir_: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from app.bot.app import BotApp
    from app.doubles.discord_payloads import make_token

    root = tmp_path / "dbs"
    asyncio.run(add_users(root, GUILD, 7))
    _kill_when_paused(PAUSED_EXPORT, str(root / f"{GUILD}.sqlite3"), str(GUILD), tmpdir=tmpdir_, env={})
    _a_minute_ago(tmpdir_)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", make_token(4242))
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    monkeypatch.setattr("app.legacy.launch.split_at_launch", lambda settings: None)
    monkeypatch.setattr(BotApp, "run", lambda self: None)

    assert main(["run"]) == 0

    assert _left(tmpdir_, "guildshelf-export-") == []
