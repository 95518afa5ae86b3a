"""Legacy-file shapes the old bot could have left: names in another case, columns named rowid, its own collations."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from app.errors import InvalidInputError, LegacySplitError
from app.legacy import SplitOptions, split_legacy
from app.legacy.backup import check_integrity
from app.legacy.digest import table_digest
from app.legacy.rules import parse_map
from app.rights.legacy_copies import erase_from_copies, quarantined_rows_of
from tests.legacy.helpers import HOME, alter, manifest, rows, snapshot

Collation = Callable[[str, str], int]


def _backwards(a: str, b: str) -> int:
    """A collation the split cannot know, and that no case-insensitive stand-in agrees with."""
    return (a < b) - (a > b)


def _rename(path: Path, table: str, new: str) -> None:
    """Rename a table to a name that differs only in case (SQLite needs a detour for that)."""
    alter(path, f'ALTER TABLE "{table}" RENAME TO "tmp_{table}"', f'ALTER TABLE "tmp_{table}" RENAME TO "{new}"')


def _with_collation(path: Path, name: str, compare: Collation, *statements: str) -> None:
    """Run `statements` on the legacy file as the old bot did, its own collation registered."""
    conn = sqlite3.connect(path)
    conn.create_collation(name, compare)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def _backup(legacy: Path) -> Path:
    [path] = legacy.parent.glob("database.db.backup-*")
    return path


# ------------------------------------------------------------------------ names in another case

def test_a_known_table_named_in_another_case_is_split_as_known(legacy: Path, tmp_path: Path) -> None:
    _rename(legacy, "users", "Users")
    _rename(legacy, "user_xp", "USER_XP")
    alter(legacy, "ALTER TABLE Users RENAME COLUMN discord_id TO Discord_ID")
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))
    assert report.tables["users"].written == rows(legacy, "SELECT count(*) FROM users")[0][0] > 0
    assert report.tables["user_xp"].written == rows(legacy, "SELECT count(*) FROM user_xp")[0][0] > 0
    record = manifest(out)
    assert record["created_tables"] == {} and "Users" not in record["rules"] and "USER_XP" not in record["rules"]
    assert rows(out / f"{HOME}.sqlite3", "SELECT count(*) FROM users WHERE discord_id IS NOT NULL") == \
        rows(legacy, "SELECT count(*) FROM users")


def test_map_names_match_tables_and_columns_in_any_case(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(quirky, out, maps=("GIVEAWAY_Entries=guild:Guild_ID,subjects=USER_ID",
                                                          "Users=skip")))
    assert report.tables["giveaway_entries"].written == 25
    assert report.tables["users"].skipped == report.tables["users"].read > 0
    record = manifest(out)
    assert record["rules"]["giveaway_entries"] == "guild:guild_id,subjects=user_id"
    assert record["rules"]["users"] == "skip" and "Users" not in record["rules"]
    assert set(record["created_tables"]) == {"giveaway_entries"}


def test_a_reserved_table_is_refused_in_any_case() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_map("Guild_Meta=home")
    assert "--map Guild_Meta=skip" in caught.value.user_message


def test_erasure_of_kept_copies_finds_tables_and_columns_in_another_case(legacy: Path, tmp_path: Path) -> None:
    _rename(legacy, "users", "Users")
    alter(legacy, "ALTER TABLE Users RENAME COLUMN discord_id TO Discord_ID")
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out))
    [(user_id,)] = rows(legacy, "SELECT Discord_ID FROM Users LIMIT 1")
    changed = erase_from_copies(out, user_id=user_id)
    assert changed[str(_backup(legacy).resolve())] > 0
    assert rows(_backup(legacy), "SELECT count(*) FROM Users WHERE Discord_ID = ?", (user_id,)) == [(0,)]


def test_member_export_finds_quarantined_tables_in_another_case(tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    out.mkdir()
    conn = sqlite3.connect(out / "legacy-quarantine-20240101T000000Z.sqlite3")
    with conn:
        conn.execute("CREATE TABLE Users (_legacy_rowid, _reason, Discord_ID, username)")
        conn.execute("INSERT INTO Users VALUES (1, 'why', 42, 'me')")
    conn.close()
    found = quarantined_rows_of(out, 42)
    assert [r["username"] for r in found["legacy-quarantine-20240101T000000Z.sqlite3"]["Users"]] == ["me"]


# ------------------------------------------------------------------------ columns named rowid

@pytest.mark.parametrize("shadowing", ["rowid", "rowid, _rowid_", "rowid, _rowid_, oid"])
def test_columns_named_rowid_lose_no_row(legacy: Path, tmp_path: Path, shadowing: str) -> None:
    names = [n.strip() for n in shadowing.split(",")]
    values = ", ".join("NULL" for _ in names)
    alter(legacy, f"CREATE TABLE notes ({shadowing}, guild_id INTEGER, note TEXT)",
          f"INSERT INTO notes VALUES ({values}, {HOME}, 'a')",
          f"INSERT INTO notes VALUES ({', '.join('7' for _ in names)}, {HOME}, 'b')",
          f"INSERT INTO notes VALUES ({values}, 'dm', 'c')",
          f"INSERT INTO notes VALUES ({values}, {HOME}, 'd')")
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out, maps=("notes=guild:guild_id",)))
    assert (report.tables["notes"].written, report.tables["notes"].quarantined) == (3, 1)
    assert rows(out / f"{HOME}.sqlite3", f"SELECT {shadowing}, note FROM notes ORDER BY note") == [
        (*[None] * len(names), "a"), (*[7] * len(names), "b"), (*[None] * len(names), "d")]
    [quarantine] = out.glob("legacy-quarantine-*.sqlite3")
    expected = None if len(names) == 3 else 3  # no reachable rowid: told apart by its values, as WITHOUT ROWID
    assert rows(quarantine, "SELECT _legacy_rowid, note FROM notes") == [(expected, "c")]


def test_a_digest_counts_rows_whose_rowid_column_is_null(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (rowid, oid, x)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(None, None, 1), (5, 5, 2), (None, None, 3)])
    assert table_digest(conn, "main", "t", ["rowid", "oid", "x"]).rows == 3
    conn.close()


# ------------------------------------------------------------------------ the old bot's own collations

def test_a_file_using_a_collation_the_split_lacks_is_split(legacy: Path, tmp_path: Path) -> None:
    [(users,)] = rows(legacy, "SELECT count(*) FROM users")
    _with_collation(legacy, "backwards", _backwards,
                    "CREATE INDEX idx_users_name ON users (username COLLATE backwards)",
                    "CREATE TABLE tags (guild_id COLLATE backwards, tag TEXT COLLATE backwards, "
                    "UNIQUE (guild_id, tag))",
                    f"INSERT INTO tags VALUES ({HOME}, 'b'), ({HOME}, 'a'), ('dm', 'c'), ({HOME}, 'C')")
    before = snapshot(legacy)
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out, maps=("tags=guild:guild_id",)))
    assert snapshot(legacy) == before
    assert all(t.balanced for t in report.tables.values())
    assert (report.tables["tags"].written, report.tables["tags"].quarantined) == (3, 1)
    assert report.tables["users"].written == users
    [(ddl,)] = rows(out / f"{HOME}.sqlite3", "SELECT sql FROM sqlite_master WHERE name = 'tags'")
    assert "backwards" not in ddl  # the collation never reaches a guild file


def test_integrity_check_still_reports_damage_beside_a_stand_in_index(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _with_collation(path, "backwards", _backwards,
                    "CREATE TABLE t (name TEXT, n INTEGER)", "CREATE INDEX by_name ON t (name COLLATE backwards)",
                    "CREATE INDEX by_n ON t (n)", "INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3)")
    check_integrity(path)  # by_name is misordered under the stand-in: its verification is skipped
    conn = sqlite3.connect(path)  # damage by_n: swap its entries' values behind SQLite's back
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX by_n ON t (name)' WHERE name = 'by_n'")
    conn.commit()
    conn.close()
    with pytest.raises(LegacySplitError) as caught:
        check_integrity(path)
    assert "by_n" in caught.value.user_message


def test_erasure_reaches_kept_copies_that_use_a_collation_the_bot_lacks(legacy: Path, tmp_path: Path) -> None:
    _with_collation(legacy, "backwards", _backwards,
                    "CREATE INDEX idx_users_name ON users (username COLLATE backwards, anilist_id)",
                    "CREATE INDEX idx_uses ON invite_uses (invite_code COLLATE backwards, inviter_id)")
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out))
    [(user_id,)] = rows(legacy, "SELECT discord_id FROM users LIMIT 1 OFFSET 7")
    [(inviter,)] = rows(legacy, "SELECT inviter_id FROM invite_uses WHERE inviter_id IS NOT NULL LIMIT 1")
    backup = _backup(legacy)
    assert erase_from_copies(out, user_id=user_id)[str(backup.resolve())] > 0
    assert erase_from_copies(out, user_id=inviter)[str(backup.resolve())] > 0
    assert rows(backup, "SELECT count(*) FROM users WHERE discord_id = ?", (user_id,)) == [(0,)]
    assert rows(backup, "SELECT count(*) FROM invite_uses WHERE inviter_id = ?", (inviter,)) == [(0,)]
    conn = sqlite3.connect(backup)  # sound for the old bot, with its real collation
    conn.create_collation("backwards", _backwards)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


# ------------------------------------------------------------------------ other shapes

def test_a_row_at_the_smallest_rowid_is_counted(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, f"INSERT INTO invite_uses (id, guild_id, joiner_id) VALUES ({-(2**63)}, {HOME}, 5)")
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))
    assert report.tables["invite_uses"].written == report.tables["invite_uses"].read
    assert rows(out / f"{HOME}.sqlite3", "SELECT joiner_id FROM invite_uses WHERE id = ?", (-(2**63),)) == [(5,)]


def test_legacy_columns_named_like_the_quarantine_columns_are_kept(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, "CREATE TABLE notes (guild_id INTEGER, _reason TEXT, _legacy_rowid INTEGER, __reason TEXT)",
          "INSERT INTO notes VALUES ('dm', 'theirs', 7, 'also theirs')")
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out, maps=("notes=guild:guild_id",)))
    assert report.tables["notes"].quarantined == 1
    [quarantine] = out.glob("legacy-quarantine-*.sqlite3")
    assert rows(quarantine, "SELECT ___legacy_rowid, ___reason LIKE 'the guild id%', _reason, _legacy_rowid, "
                            "__reason FROM notes") == [(1, 1, "theirs", 7, "also theirs")]
