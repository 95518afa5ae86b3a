from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.db.schema import split_statements
from tests.db.helpers import build_v1_file


def _version_and_tables(path: Path) -> tuple[int, int, set[str]]:
    conn = sqlite3.connect(path)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    meta = conn.execute("SELECT schema_version FROM guild_meta").fetchone()[0]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    return version, meta, names


@pytest.mark.asyncio
async def test_a_v1_file_is_migrated_to_v2_on_first_open_and_keeps_its_data(tmp_path: Path) -> None:
    path = build_v1_file(tmp_path, 31)
    before = _version_and_tables(path)
    manager = GuildDatabaseManager(tmp_path, max_open=1)
    async with manager.connect(31) as db:
        await db.execute("INSERT INTO guild_settings (key, value) VALUES ('xp.enabled', 'true')")
        xp = [tuple(r) for r in await db.execute_fetchall("SELECT discord_id, xp FROM user_xp ORDER BY 1")]
    await manager.close_all()
    after = _version_and_tables(path)
    assert before[:2] == (1, 1) and "guild_settings" not in before[2]
    assert after[:2] == (2, 2) and {"guild_settings", "idx_user_xp_rank"} <= after[2]
    assert xp == [(1, 10), (2, 20), (3, 30)]


def test_the_migrated_schema_equals_the_template_schema(tmp_path: Path) -> None:
    path = build_v1_file(tmp_path, 32)
    conn = sqlite3.connect(path)
    conn.isolation_level = None
    from app.db.files import migrate

    migrate(conn, GUILD_SCHEMA)
    migrated = sorted(r for r in conn.execute("SELECT type, name, tbl_name FROM sqlite_master"))
    conn.close()
    fresh = sqlite3.connect(":memory:")
    fresh.executescript(GUILD_SCHEMA.sql_path.read_text())
    template = sorted(r for r in fresh.execute("SELECT type, name, tbl_name FROM sqlite_master"))
    fresh.close()
    assert migrated == template


def test_a_failing_migration_leaves_the_file_at_its_old_version(tmp_path: Path) -> None:
    from app.db.files import migrate
    from app.db.schema import Schema

    bad_dir = tmp_path / "bad-migrations"
    bad_dir.mkdir()
    (bad_dir / "0002_broken.sql").write_text("CREATE TABLE guild_settings (key TEXT);\nSELECT nope FROM nowhere;\n")
    schema = Schema("guild", GUILD_SCHEMA.sql_path, bad_dir, "guild_meta")
    path = build_v1_file(tmp_path / "dbs", 33)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, schema)
    conn.close()
    version, meta, names = _version_and_tables(path)
    assert (version, meta) == (1, 1)
    assert "guild_settings" not in names


def test_split_statements_keeps_triggers_whole() -> None:
    script = """
    -- a comment
    CREATE TABLE a (x INTEGER);
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE a SET x = x + 1;
    END;
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
