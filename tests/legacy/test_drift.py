"""Legacy files that drifted from schema.sql over the years, and the dry run's counts of them."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from app.db.ids import guild_file_name
from app.errors import UnknownLegacyTablesError
from app.legacy import SplitOptions, split_legacy
from app.legacy.cli import main
from tests.legacy.helpers import HOME, SCRIPT, alter, copy_legacy, rows, snapshot

# rows the new STRICT schema refuses: its keys, its NOT NULLs, its types; and guild ids that are no snowflake
_REFUSED = (
    "CREATE TABLE users_loose (discord_id, username TEXT, anilist_username TEXT, anilist_id INTEGER, "
    "created_at, updated_at)",
    "INSERT INTO users_loose SELECT * FROM users",
    "INSERT INTO users_loose SELECT * FROM users ORDER BY rowid LIMIT 2",  # duplicates: no PRIMARY KEY kept them
    "INSERT INTO users_loose VALUES ('abc', 'text id', NULL, NULL, NULL, NULL), (x'0102', 'blob id', NULL, NULL, "
    "NULL, NULL), (' 12 ', 'spaced id', NULL, NULL, NULL, NULL), (7, NULL, NULL, NULL, NULL, NULL)",
    "DROP TABLE users",
    "ALTER TABLE users_loose RENAME TO users",
    "INSERT INTO user_xp (discord_id, xp) VALUES (5, 'lots')",
    "INSERT INTO achievements (discord_id, achievement_key, tier) VALUES (1, 'k', 2.5), (2, 'k', '7')",
    "INSERT INTO invite_uses (guild_id, joiner_id, is_fake) VALUES ('dm', 1, 0), (-5, 2, 0), "
    "(897814031346319382, 3, 'no')",
)


def _twins(legacy: Path, tmp_path: Path) -> tuple[Path, Path]:
    alter(legacy, *_REFUSED)
    (tmp_path / "twin").mkdir()
    return legacy, copy_legacy(legacy, tmp_path / "twin" / "database.db")


def test_a_dry_run_counts_what_the_new_schema_refuses_as_the_split_does(legacy: Path, tmp_path: Path) -> None:
    legacy, twin = _twins(legacy, tmp_path)
    dry = split_legacy(SplitOptions(legacy, tmp_path / "dry", dry_run=True))
    real = split_legacy(SplitOptions(twin, tmp_path / "twin" / "guild_dbs"))
    assert {n: c.quarantined for n, c in real.tables.items() if c.quarantined} == {
        "users": 5, "user_xp": 1, "achievements": 1, "invite_uses": 3}
    assert dry.tables == real.tables
    assert dry.plan["quarantined_rows"] == {"users": 5, "user_xp": 1, "achievements": 1, "invite_uses": 3}
    assert all(c.balanced for c in dry.tables.values())


def test_a_dry_run_that_counts_refusals_still_writes_nothing(legacy: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    alter(legacy, *_REFUSED)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before, files = snapshot(legacy), sorted(p.name for p in legacy.parent.iterdir())
    code = main([str(legacy), "--out", str(tmp_path / "guild_dbs"), "--dry-run"])
    assert code == 0
    assert "user_xp" in capsys.readouterr().out
    assert not (tmp_path / "guild_dbs").exists()
    assert snapshot(legacy) == before and sorted(p.name for p in legacy.parent.iterdir()) == files
    assert list(scratch.iterdir()) == []  # its rehearsal is removed


def test_a_dry_run_counts_orphans_and_quarantined_rows_of_a_quirky_file_as_the_split_does(
        quirky: Path, tmp_path: Path) -> None:
    maps = ("giveaway_entries=guild:guild_id,subjects=user_id",)
    (tmp_path / "twin").mkdir()
    twin = copy_legacy(quirky, tmp_path / "twin" / "database.db")
    dry = split_legacy(SplitOptions(quirky, tmp_path / "dry", maps=maps, dry_run=True))
    real = split_legacy(SplitOptions(twin, tmp_path / "twin" / "guild_dbs", maps=maps))
    assert real.tables["user_progress"].orphans > 0 and real.tables["user_xp"].quarantined == 1
    assert dry.tables == real.tables


def test_a_dry_run_without_a_home_guild_still_counts_the_user_tables_refusals(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, "DELETE FROM bot_settings WHERE key = 'default_guild'",
          "INSERT INTO user_xp (discord_id, xp) VALUES (5, 'lots')")
    dry = split_legacy(SplitOptions(legacy, tmp_path / "dry", dry_run=True))
    assert dry.plan["would_stop"] and "No home guild" in dry.message
    assert dry.tables["user_xp"].quarantined == 1 and dry.tables["user_xp"].balanced


_NO_ROWID = (
    "CREATE TABLE games (discord_id INTEGER, app_id INTEGER, name TEXT, playtime_minutes INTEGER, "
    "PRIMARY KEY (discord_id, app_id)) WITHOUT ROWID",
    "INSERT INTO games SELECT * FROM steam_games",
    "INSERT INTO games VALUES (1, 10, 'text playtime', 'long'), (1, 20, 'fine', 5), (2, 10, 'null playtime', NULL)",
    "DROP TABLE steam_games",
    "ALTER TABLE games RENAME TO steam_games",
)


def test_refused_rows_of_a_without_rowid_table_are_quarantined_by_their_key(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, *_NO_ROWID)
    (tmp_path / "twin").mkdir()
    twin = copy_legacy(legacy, tmp_path / "twin" / "database.db")
    report = split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs"))
    games = report.tables["steam_games"]
    assert (games.quarantined, games.written) == (2, games.read - 2)
    assert report.quarantine is not None
    kept = rows(report.quarantine, "SELECT discord_id, app_id, playtime_minutes, _reason FROM steam_games "
                                   "ORDER BY discord_id")
    assert [k[:3] for k in kept] == [(1, 10, "long"), (2, 10, None)]
    assert "INTEGER" in kept[0][3] and "NOT NULL" in kept[1][3]
    assert rows(tmp_path / "guild_dbs" / guild_file_name(HOME),
                "SELECT name FROM steam_games WHERE discord_id = 1") == [("fine",)]
    assert split_legacy(SplitOptions(twin, tmp_path / "dry", dry_run=True)).tables == report.tables


def test_every_problem_that_stops_the_split_is_named_in_one_run(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, "CREATE TABLE old_notes (note TEXT)", "CREATE TABLE old_stats (n INTEGER)",
          "ALTER TABLE users ADD COLUMN referrer_id INTEGER", "DELETE FROM bot_settings WHERE key = 'default_guild'")
    before = snapshot(legacy)
    done = subprocess.run([sys.executable, str(SCRIPT), str(legacy), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    for named in ("old_notes", "old_stats", "referrer_id", "No home guild"):
        assert named in done.stderr
    assert not (tmp_path / "o").exists() and snapshot(legacy) == before


def test_unknown_tables_among_other_problems_still_raise_the_unknown_tables_error(legacy: Path,
                                                                                tmp_path: Path) -> None:
    alter(legacy, "CREATE TABLE old_notes (note TEXT)", "DELETE FROM bot_settings WHERE key = 'default_guild'")
    with pytest.raises(UnknownLegacyTablesError) as caught:
        split_legacy(SplitOptions(legacy, tmp_path / "o"))
    assert caught.value.tables == ["old_notes"] and "No home guild" in caught.value.user_message
