"""Fixtures the backup tests share."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def tmpdir_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's TMPDIR (`tempfile.gettempdir()`): a folder of the test's own, to look for leftovers in."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def replicated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, Path]:
    """Two guilds and the bot-wide file replicated once (the daemon stopped since); GUILD_DBS_DIR and the replica
    URL set. Returns the guild folder, the replica URL and `tmp_path`."""
    from tests.backup.replica_helpers import fill, replicate

    root, replica = tmp_path / "dbs", f"file://{tmp_path / 'replica'}"
    fill(root)
    replicate(tmp_path / "ls", sorted(root.glob("*.sqlite3")), replica)
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    monkeypatch.setenv("LITESTREAM_REPLICA_URL", replica)
    return root, replica, tmp_path
