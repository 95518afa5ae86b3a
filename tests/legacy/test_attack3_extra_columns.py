"""Attacks on the extra columns a split keeps (commit bb7ba81): hostile names, refused rows, wide tables."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.legacy import SplitOptions, split_legacy
from tests.legacy.helpers import HOME, alter, manifest, rows


def _everywhere(out: Path, sql: str) -> list[str]:
    """`sql` run on every guild file and the quarantine file, as sorted reprs (tables absent skipped)."""
    found: list[str] = []
    for path in sorted(out.glob("*.sqlite3")):
        try:
            found += map(repr, rows(path, sql))
        except sqlite3.OperationalError:
            continue  # a file without that table
    return sorted(found)


def test_the_report_message_is_one_line_whatever_an_added_column_is_called(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, 'ALTER TABLE users ADD COLUMN "two\nlines"', 'UPDATE users SET "two\nlines" = 1')
    out = tmp_path / "guild_dbs"

    report = split_legacy(SplitOptions(legacy, out))

    assert "\n" not in report.message
    assert "users.two\\nlines" in report.message  # escaped, as the split's errors show such names
    assert manifest(out)["extended_tables"] == {"users": ["two\nlines"]}  # the manifest keeps the real name
    assert rows(out / f"{HOME}.sqlite3", 'SELECT count(*) FROM users WHERE "two\nlines" = 1') == \
        rows(legacy, "SELECT count(*) FROM users")


def test_a_table_with_hundreds_of_added_columns_is_split(legacy: Path, tmp_path: Path) -> None:
    """The checksum's `quote(a)||'|'||quote(b)…` must not pass SQLite's expression depth limit (1000)."""
    alter(legacy, *(f"ALTER TABLE invites ADD COLUMN c{i}" for i in range(600)),
          "UPDATE invites SET c0 = code, c599 = uses")
    out = tmp_path / "guild_dbs"

    report = split_legacy(SplitOptions(legacy, out))

    assert report.tables["invites"].balanced
    assert len(manifest(out)["extended_tables"]["invites"]) == 600
    wanted = sorted(map(repr, rows(legacy, "SELECT code, c0, c599, typeof(c599) FROM invites")))
    assert _everywhere(out, "SELECT code, c0, c599, typeof(c599) FROM invites") == wanted


@pytest.mark.parametrize("names", [
    ("rowid",), ("_rowid_", "oid"), ("rowid", "_rowid_", "oid"),  # a column may hide the rowid
    ("_legacy_rowid", "_reason"),  # the quarantine table's own columns
    ('a"b\'c', "ÜSERNAME", "🌸", "", " "),  # quotes, unicode (SQLite folds ASCII only), empty, blank
])
def test_hostile_added_names_keep_every_row_and_value_even_the_refused(legacy: Path, tmp_path: Path,
                                                                     names: tuple[str, ...]) -> None:
    q = ['"' + n.replace('"', '""') + '"' for n in names]
    alter(legacy, *(f"ALTER TABLE invites ADD COLUMN {c}" for c in q),
          *(f"UPDATE invites SET {c} = CASE WHEN rowid % 2 THEN code ELSE x'00ff' END" for c in q),
          "UPDATE invites SET uses = 'lots' WHERE rowid % 3 = 0",  # refused by the STRICT table: quarantined
          *(f"ALTER TABLE users ADD COLUMN {c}" for c in q),
          *(f"UPDATE users SET {c} = discord_id * 1.0" for c in q),
          "UPDATE users SET username = x'00' WHERE discord_id % 4 = 0")  # refused too
    out = tmp_path / "guild_dbs"

    report = split_legacy(SplitOptions(legacy, out))

    assert all(c.balanced for c in report.tables.values())
    assert report.tables["invites"].quarantined and report.tables["users"].quarantined
    assert manifest(out)["extended_tables"] == {"invites": list(names), "users": list(names)}
    for table, key in (("invites", "code"), ("users", "discord_id")):
        sql = f"SELECT {key}, {', '.join(f'{c}, typeof({c})' for c in q)} FROM {table}"
        assert _everywhere(out, sql) == sorted(map(repr, rows(legacy, sql)))


def test_a_without_rowid_legacy_table_with_extra_columns_and_refused_rows(legacy: Path, tmp_path: Path) -> None:
    alter(legacy,
          "CREATE TABLE rs (guild_id INTEGER NOT NULL, inviter_id INTEGER NOT NULL, total_invites INTEGER, "
          "valid_invites INTEGER, left_invites INTEGER, fake_invites INTEGER, bonus_invites INTEGER, "
          "streak ANY, PRIMARY KEY (guild_id, inviter_id)) WITHOUT ROWID",
          "INSERT INTO rs SELECT *, inviter_id % 7 FROM recruitment_stats",
          "UPDATE rs SET total_invites = 'many', streak = x'01' WHERE inviter_id % 3 = 0",
          "DROP TABLE recruitment_stats", "ALTER TABLE rs RENAME TO recruitment_stats")
    out = tmp_path / "guild_dbs"

    report = split_legacy(SplitOptions(legacy, out))

    assert report.tables["recruitment_stats"].balanced and report.tables["recruitment_stats"].quarantined
    assert manifest(out)["extended_tables"] == {"recruitment_stats": ["streak"]}
    sql = "SELECT inviter_id, total_invites, streak, typeof(streak) FROM recruitment_stats"
    assert _everywhere(out, sql) == sorted(map(repr, rows(legacy, sql)))


@pytest.mark.parametrize("point", ["stage:2", "finish:2"])
def test_a_split_killed_midway_keeps_the_added_columns_when_rerun(legacy: Path, tmp_path: Path, point: str) -> None:
    from tests.legacy.test_resume import _killed_at

    alter(legacy, "ALTER TABLE invites ADD COLUMN note", "UPDATE invites SET note = 'n' || code",
          "ALTER TABLE users ADD COLUMN theme TEXT", "UPDATE users SET theme = x'0102'")
    out = tmp_path / "guild_dbs"
    _killed_at(legacy, out, point)

    report = split_legacy(SplitOptions(legacy, out))

    assert report.status == "split" and "invites.note, users.theme" in report.message
    assert manifest(out)["extended_tables"] == {"invites": ["note"], "users": ["theme"]}
    for table, key, extra in (("invites", "code", "note"), ("users", "discord_id", "theme")):
        sql = f"SELECT {key}, {extra}, typeof({extra}) FROM {table}"
        assert _everywhere(out, sql) == sorted(map(repr, rows(legacy, sql)))
