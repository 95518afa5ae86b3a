"""Item 7: guild ids stored as REAL or as text like '1234.0' are quarantined, never rounded into a snowflake."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.cli import main
from app.legacy import SplitOptions, split_legacy
from tests.legacy.helpers import rows

NEAR = 897814031346319382.0  # as a double: exactly 897814031346319360, another server's id
ROUNDED = 897814031346319360


def test_real_and_decimal_text_guild_ids_are_quarantined(legacy: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(legacy)
    with conn:
        conn.execute("CREATE TABLE raffle (guild_id, note TEXT)")  # no affinity: values stay as stored
        conn.executemany("INSERT INTO raffle VALUES (?, ?)",
                         [(NEAR, "real"), ("1234.0", "text"), (1234.0, "small real"), (ROUNDED, "real id")])
    conn.close()
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out, maps=("raffle=guild:guild_id",)))
    assert report.tables["raffle"].quarantined == 3 and report.tables["raffle"].written == 1
    assert report.quarantine is not None
    kept = rows(report.quarantine, "SELECT note, _reason FROM raffle ORDER BY _legacy_rowid")
    assert [k[0] for k in kept] == ["real", "text", "small real"]
    assert all("not a Discord server id" in k[1] for k in kept)
    assert not (out / "1234.sqlite3").exists()
    assert rows(out / f"{ROUNDED}.sqlite3", "SELECT note FROM raffle") == [("real id",)]

    monkeypatch.setenv("GUILD_DBS_DIR", str(out))
    assert main(["guild", "delete", str(ROUNDED), "--yes", "--json"]) == 0  # the real server with that id
    capsys.readouterr()
    assert [r[0] for r in rows(report.quarantine, "SELECT note FROM raffle ORDER BY 1")] == \
        ["real", "small real", "text"]  # the REAL that rounds to it was no row of that server
    for path in legacy.parent.glob("database.db.backup-*"):
        assert rows(path, "SELECT count(*) FROM raffle WHERE note = 'real'") == [(1,)]
        assert rows(path, "SELECT count(*) FROM raffle WHERE note = 'real id'") == [(0,)]
