from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.db.files import migrate
from app.db.schema import Schema, split_statements
from app.errors import GuildDatabaseError
from tests.db.helpers import build_v1_file


def _version_and_tables(path: Path) -> tuple[int, int, set[str]]:
    conn = sqlite3.connect(path)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    meta = conn.execute("SELECT schema_version FROM guild_meta").fetchone()[0]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    return version, meta, names


@pytest.mark.asyncio
async def test_a_v1_file_is_migrated_to_v3_on_first_open_and_keeps_its_data(tmp_path: Path) -> None:
    path = build_v1_file(tmp_path, 31)
    before = _version_and_tables(path)
    manager = GuildDatabaseManager(tmp_path, max_open=1)
    async with manager.connect(31) as db:
        await db.execute("INSERT INTO guild_settings (key, value) VALUES ('xp.enabled', 'true')")
        xp = [tuple(r) for r in await db.execute_fetchall("SELECT discord_id, xp FROM user_xp ORDER BY 1")]
    await manager.close_all()
    after = _version_and_tables(path)
    assert before[:2] == (1, 1) and "guild_settings" not in before[2]
    assert after[:2] == (3, 3) and {"guild_settings", "idx_user_xp_rank", "reading_days"} <= after[2]
    assert xp == [(1, 10), (2, 20), (3, 30)]


def _normalised_sql(sql: str | None) -> str | None:
    """An object's CREATE statement without comments and layout: CHECK clauses, STRICT and the like."""
    if sql is None:
        return None
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s*([(),])\s*", r"\1", text)


def schema_of(conn: sqlite3.Connection) -> dict[str, object]:
    """Everything a migration could get wrong: every table's columns (name, type, NOT NULL, default, key,
    in order), its options (STRICT, WITHOUT ROWID), foreign keys and indexes (columns, order, collation,
    unique, partial), and the CREATE statement of every object, normalised; plus user_version."""
    objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                           "ORDER BY type, name").fetchall()
    tables = {}
    for kind, name, _, _ in objects:
        if kind != "table":
            continue
        q = name.replace('"', '""')
        indexes = {row[1]: (row[2], row[3], row[4], conn.execute(f'PRAGMA index_xinfo("{row[1]}")').fetchall())
                   for row in conn.execute(f'PRAGMA index_list("{q}")')}
        tables[name] = {
            "columns": [row[1:] for row in conn.execute(f'PRAGMA table_xinfo("{q}")')],
            "options": conn.execute("SELECT type, ncol, wr, strict FROM pragma_table_list WHERE name = ?",
                                    (name,)).fetchall(),
            "foreign_keys": sorted(row[2:] for row in conn.execute(f'PRAGMA foreign_key_list("{q}")')),
            "indexes": indexes,
        }
    return {"user_version": conn.execute("PRAGMA user_version").fetchone()[0], "tables": tables,
            "objects": [(kind, name, tbl, _normalised_sql(sql)) for kind, name, tbl, sql in objects]}


def _migrated_and_template(tmp_path: Path, schema: Schema) -> tuple[dict[str, object], dict[str, object]]:
    conn = sqlite3.connect(build_v1_file(tmp_path, 32), isolation_level=None)
    migrate(conn, schema)
    migrated = schema_of(conn)
    conn.close()
    fresh = sqlite3.connect(":memory:")
    fresh.executescript(GUILD_SCHEMA.sql_path.read_text(encoding="utf-8"))
    template = schema_of(fresh)
    fresh.close()
    return migrated, template


def test_the_migrated_schema_equals_the_template_schema(tmp_path: Path) -> None:
    migrated, template = _migrated_and_template(tmp_path, GUILD_SCHEMA)
    assert migrated == template
    assert template["user_version"] == GUILD_SCHEMA.version


@pytest.mark.parametrize("change", [
    "ALTER TABLE invites DROP COLUMN channel_id",
    "ALTER TABLE invites ADD COLUMN note TEXT",
    "DROP INDEX idx_user_xp_rank; CREATE INDEX idx_user_xp_rank ON user_xp (xp, discord_id)",
    "DROP TABLE guild_settings; CREATE TABLE guild_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
    "updated_by INTEGER, updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))",
    "DROP TABLE guild_settings; CREATE TABLE guild_settings (key TEXT PRIMARY KEY, value TEXT, "
    "updated_by INTEGER, updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) STRICT",
    "DROP TABLE guild_settings; CREATE TABLE guild_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
    "updated_by INTEGER, updated_at TEXT NOT NULL DEFAULT 'now') STRICT",
    "DROP TABLE guild_settings; CREATE TABLE guild_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL "
    "CHECK (value != ''), updated_by INTEGER, updated_at TEXT NOT NULL "
    "DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) STRICT",
], ids=["dropped column", "extra column", "index order", "not STRICT", "NOT NULL lost", "default", "CHECK"])
def test_the_comparison_sees_a_migration_that_changes_the_schema(tmp_path: Path, change: str) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for existing in GUILD_SCHEMA.migrations_dir.glob("*.sql"):
        (migrations / existing.name).write_text(existing.read_text(encoding="utf-8"), encoding="utf-8")
    real = next(migrations.glob("0002_*.sql"))
    statements = change.replace("; ", ";\n")  # one statement a line, as split_statements expects
    real.write_text(f"{real.read_text(encoding='utf-8')}\n{statements};\n", encoding="utf-8")
    schema = Schema("guild", GUILD_SCHEMA.sql_path, migrations, "guild_meta")
    migrated, template = _migrated_and_template(tmp_path / "dbs", schema)
    assert migrated != template


def test_a_failing_migration_leaves_the_file_at_its_old_version(tmp_path: Path) -> None:
    bad_dir = tmp_path / "bad-migrations"
    bad_dir.mkdir()
    (bad_dir / "0002_broken.sql").write_text("CREATE TABLE guild_settings (key TEXT);\nSELECT nope FROM nowhere;\n")
    schema = Schema("guild", GUILD_SCHEMA.sql_path, bad_dir, "guild_meta")
    path = build_v1_file(tmp_path / "dbs", 33)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as caught:
        migrate(conn, schema)
    in_transaction = conn.in_transaction
    conn.close()
    version, meta, names = _version_and_tables(path)
    assert str(caught.value) == "no such table: nowhere"  # the migration's own error, not the rollback's
    assert not in_transaction
    assert (version, meta) == (1, 1)
    assert "guild_settings" not in names


def test_migrations_that_stop_short_of_the_template_version_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "no-migrations"
    empty.mkdir()
    path = build_v1_file(tmp_path / "dbs", 34)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(GuildDatabaseError) as caught:
        migrate(conn, Schema("guild", GUILD_SCHEMA.sql_path, empty, "guild_meta"))
    conn.close()
    assert str(caught.value) == "migrations end at version 1, the schema is 3"
    assert _version_and_tables(path)[:2] == (1, 1)


def test_a_second_migrator_finds_the_work_done_and_changes_nothing(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = build_v1_file(tmp_path, 35)
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None)  # opened at v1 too, before the first migrated
    with caplog.at_level(logging.INFO, logger="app.db.files"):
        results = (migrate(first, GUILD_SCHEMA), migrate(second, GUILD_SCHEMA))  # the version is re-read
    first.close()
    second.close()
    assert results == (1, 3)
    assert [r.getMessage() for r in caplog.records] == ["migrated guild from schema version 1 to 3"]


def test_only_the_migrations_after_the_files_version_run(tmp_path: Path) -> None:
    current, following = GUILD_SCHEMA.version, GUILD_SCHEMA.version + 1
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for existing in GUILD_SCHEMA.migrations_dir.glob("*.sql"):
        (migrations / existing.name).write_text(existing.read_text(encoding="utf-8"), encoding="utf-8")
    (migrations / f"{following:04d}_reading_goals.sql").write_text("CREATE TABLE reading_goals (discord_id INTEGER);\n")
    template = GUILD_SCHEMA.sql_path.read_text(encoding="utf-8")
    next_sql = tmp_path / "guild_schema_next.sql"
    next_sql.write_text(template.replace(f"PRAGMA user_version = {current};", f"PRAGMA user_version = {following};")
                        .replace(f"VALUES (0, {current});", f"VALUES (0, {following});")
                        + "\nCREATE TABLE reading_goals (discord_id INTEGER);\n", encoding="utf-8")
    path = build_v1_file(tmp_path / "dbs", 36)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, GUILD_SCHEMA)  # to the current version: the migrations up to it must not run again
    before = migrate(conn, Schema("guild", next_sql, migrations, "guild_meta"))
    conn.close()
    version, meta, names = _version_and_tables(path)
    assert before == current and (version, meta) == (following, following)
    assert {"guild_settings", "reading_days", "reading_goals"} <= names


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
