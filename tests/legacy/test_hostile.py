"""Item 12: a crafted legacy file can neither hang the split nor plant anything in the guild files."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.errors import LegacySplitError
from app.legacy import SplitOptions, source, split_legacy
from app.legacy.plan import affinity
from tests.legacy.helpers import HOME, SCRIPT, alter, rows

LOOP = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT 'default_guild' AS key, x AS value FROM c WHERE x < 0")


def test_a_view_in_place_of_an_expected_table_is_refused_at_once(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, "DROP TABLE bot_settings", f"CREATE VIEW bot_settings AS {LOOP}")
    done = subprocess.run([sys.executable, str(SCRIPT), str(legacy), "--out", str(tmp_path / "guild_dbs")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "bot_settings is a view, not a table" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "guild_dbs").glob("*.sqlite3")) if (tmp_path / "guild_dbs").exists() else True


def test_legacy_reads_are_bounded_in_time(legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "READ_DEADLINE_S", 0.0)
    monkeypatch.setattr(source, "_PROGRESS_STEPS", 1)
    with pytest.raises(LegacySplitError) as caught:
        split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs"))
    assert "took longer than" in caught.value.user_message
    assert not list(legacy.parent.glob("database.db.backup-*"))


def test_declared_types_are_reduced_to_their_affinity(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, "CREATE TABLE extras (guild_id INTEGER, note 'TEXT DEFAULT (zeroblob(4000000))', "
                   "score 'REAL CHECK (score < 0)', ref 'INT REFERENCES users ON DELETE CASCADE')",
           f"INSERT INTO extras VALUES ({HOME}, 'hello', 1.5, 7)")
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out, maps=("extras=guild:guild_id",)))
    [(ddl,)] = rows(out / f"{HOME}.sqlite3", "SELECT sql FROM sqlite_master WHERE name = 'extras'")
    assert "zeroblob" not in ddl and "CHECK" not in ddl and "REFERENCES" not in ddl
    assert [r[2] for r in rows(out / f"{HOME}.sqlite3", "PRAGMA table_info(extras)")] == ["TEXT", "REAL", "INTEGER"]


@pytest.mark.parametrize(("declared", "expected"), [
    ("INTEGER", "INTEGER"), ("BIGINT", "INTEGER"), ("VARCHAR(20)", "TEXT"), ("", ""), ("BLOB", ""),
    ("DOUBLE PRECISION", "REAL"), ("DATETIME", "NUMERIC"), ("TEXT DEFAULT (zeroblob(9))", "TEXT")])
def test_affinity_follows_sqlites_rules(declared: str, expected: str) -> None:
    assert affinity(declared) == expected


def test_json_export_entry_names_stay_inside_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "dbs"
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))

    async def build() -> None:
        async with GuildDatabaseManager(root, max_open=1) as manager, manager.connect(HOME) as db:
            await db.execute('CREATE TABLE "../../x" (a)')
            await db.execute('INSERT INTO "../../x" VALUES (1)')
    asyncio.run(build())
    out = tmp_path / "export.zip"
    assert main(["guild", "export", str(HOME), "--out", str(out), "--format", "json"]) == 0
    names = zipfile.ZipFile(out).namelist()
    assert all(".." not in n.split("/") and not n.startswith("/") for n in names)
    assert "tables/x.json" in names
