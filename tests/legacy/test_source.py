"""Reading the legacy file never modifies it or its -wal/-shm, whatever state it was left in."""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from app.legacy.source import open_read_only
from app.legacy.testing import write_and_leave_in_wal
from tests.legacy.helpers import snapshot

LAST = "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')"


def _read_last_write(legacy: Path) -> list[tuple[str]]:
    time.sleep(0.01)  # a write would move the mtime past the snapshot's
    with open_read_only(legacy) as conn:
        return conn.execute("SELECT value FROM bot_settings WHERE key = 'last_write'").fetchall()


def test_unfinished_wal_is_read_and_no_file_changes(legacy: Path) -> None:
    write_and_leave_in_wal(legacy, LAST)
    before = snapshot(legacy)
    assert before["-wal"] is not None and before["-shm"] is not None
    assert _read_last_write(legacy) == [("in the wal",)]
    assert snapshot(legacy) == before


def test_wal_without_its_shm_is_read_from_a_private_copy(legacy: Path) -> None:
    write_and_leave_in_wal(legacy, LAST)
    os.unlink(f"{legacy}-shm")
    before = snapshot(legacy)
    assert _read_last_write(legacy) == [("in the wal",)]
    assert snapshot(legacy) == before
    assert not Path(f"{legacy}-shm").exists()


def test_cleanly_closed_wal_database_is_read_without_creating_side_files(legacy: Path) -> None:
    conn = sqlite3.connect(legacy)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(LAST)
    conn.commit()
    conn.close()
    before = snapshot(legacy)
    assert before["-wal"] is None and before["-shm"] is None
    assert _read_last_write(legacy) == [("in the wal",)]
    assert snapshot(legacy) == before


def test_rollback_journal_database_is_read_in_place(legacy: Path) -> None:
    conn = sqlite3.connect(legacy)
    conn.execute(LAST)
    conn.commit()
    conn.close()
    before = snapshot(legacy)
    assert _read_last_write(legacy) == [("in the wal",)]
    assert snapshot(legacy) == before


def test_missing_legacy_file_is_a_clear_error(tmp_path: Path) -> None:
    from app.errors import LegacySplitError

    with pytest.raises(LegacySplitError) as caught, open_read_only(tmp_path / "database.db"):
        pass
    assert "cannot be read" in caught.value.user_message
