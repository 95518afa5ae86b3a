"""`restore --from-replica` migrates an older guild copy in its private copy: a copy whose migration fails is that
file's outcome ("invalid", nothing put in place), never the end of the whole restore."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from app.db.schema import GUILD_SCHEMA
from app.replicate import litestream
from app.replicate.restore import restore_from_replica
from tests.db.helpers import build_guild_file

GUILD = 111_111_111_111_111_111


def _claims_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f"PRAGMA user_version = {version}")  # yet holds reading_days: migration 0003 fails half-way
    finally:
        conn.close()


@pytest.fixture
def replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder standing in for the replica: `litestream restore` copies the file of the same name from it."""
    folder = tmp_path / "replica"

    def restore(replica_url: str, path: Path, out: Path) -> None:
        shutil.copyfile(folder / path.name, out)
    monkeypatch.setattr(litestream, "restore", restore)
    return folder


@pytest.mark.parametrize("version", [2, GUILD_SCHEMA.version + 1])
def test_a_replica_copy_that_cannot_be_brought_to_this_schema_is_refused_alone(
        tmp_path: Path, replica: Path, version: int) -> None:
    root = tmp_path / "dbs"
    root.mkdir()
    _claims_version(build_guild_file(replica, GUILD), version)

    [result] = restore_from_replica(root, "file:///unused", guild_id=GUILD)

    assert result.outcome == "invalid", result
    assert list(root.iterdir()) == []  # nothing put in place, the private copy and its side files gone
