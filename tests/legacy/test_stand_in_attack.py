"""Attacks on today's legacy-split shapes: stand-in collations, names in another case, the dry run's scratch space."""
from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.errors import LegacySplitError
from app.legacy import SplitOptions, split_legacy
from app.legacy.backup import check_integrity
from app.legacy.splitter import PAUSE_ENV
from app.rights.legacy_copies import erase_from_copies
from tests.legacy.helpers import HOME, SCRIPT, alter, rows, snapshot


def _lower_nocase(a: str, b: str) -> int:
    """The old bot's `unicode_nocase` as bots wrote it: `str.lower`, where the stand-in uses `str.casefold`."""
    x, y = a.lower(), b.lower()
    return (x > y) - (x < y)


def _backwards(a: str, b: str) -> int:
    return (a < b) - (a > b)


def _as_the_old_bot(path: Path, name: str, compare: object, *statements: str) -> None:
    conn = sqlite3.connect(path)
    conn.create_collation(name, compare)  # type: ignore[arg-type]
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def test_refused_rows_keyed_by_a_stand_in_collation_lose_no_row(legacy: Path, tmp_path: Path) -> None:
    # 'straße' and 'strasse' are two keys to the old bot (lower) but one to the case-folding stand-in
    _as_the_old_bot(legacy, "unicode_nocase", _lower_nocase,
                    "DROP TABLE achievements",
                    "CREATE TABLE achievements (discord_id INTEGER NOT NULL, achievement_key TEXT COLLATE "
                    "unicode_nocase NOT NULL, tier INTEGER NOT NULL DEFAULT 1, unlocked_at DATETIME, "
                    "PRIMARY KEY (discord_id, achievement_key)) WITHOUT ROWID",
                    "INSERT INTO achievements VALUES (1, 'straße', 1, NULL), (1, 'strasse', 1, NULL), "
                    "(2, 'x', 'high', NULL)")
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out))
    assert (report.tables["achievements"].written, report.tables["achievements"].quarantined) == (2, 1)
    assert rows(out / f"{HOME}.sqlite3", "SELECT achievement_key FROM achievements ORDER BY 1") == [
        ("strasse",), ("straße",)]
    assert report.quarantine is not None
    assert rows(report.quarantine, "SELECT discord_id, achievement_key, tier FROM achievements") == [(2, "x", "high")]


def test_damage_in_an_index_with_a_stand_in_is_reported_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _as_the_old_bot(path, "backwards", _backwards,
                    "CREATE TABLE other (t TEXT)", "CREATE TABLE notes (guild_id INTEGER, t TEXT)",
                    "INSERT INTO notes VALUES (1, 'a'), (1, 'b'), (1, 'c')",
                    "CREATE INDEX notes_t ON notes (t COLLATE backwards)")
    # a row removed behind the index's back: the index keeps an entry for it (what a torn write leaves)
    _as_the_old_bot(path, "backwards", _backwards, "PRAGMA writable_schema = ON",
                    "UPDATE sqlite_master SET tbl_name = 'other', "
                    "sql = 'CREATE INDEX notes_t ON other (t COLLATE backwards)' WHERE name = 'notes_t'")
    _as_the_old_bot(path, "backwards", _backwards, "DELETE FROM notes WHERE t = 'b'")
    _as_the_old_bot(path, "backwards", _backwards, "PRAGMA writable_schema = ON",
                    "UPDATE sqlite_master SET tbl_name = 'notes', "
                    "sql = 'CREATE INDEX notes_t ON notes (t COLLATE backwards)' WHERE name = 'notes_t'")
    with pytest.raises(LegacySplitError) as caught:
        check_integrity(path)
    assert "wrong # of entries in index notes_t" in caught.value.user_message


def test_a_partial_index_whose_condition_uses_a_stand_in_is_no_damage(legacy: Path, tmp_path: Path) -> None:
    _as_the_old_bot(legacy, "backwards", _backwards,
                    "CREATE TABLE notes (guild_id INTEGER, member_name TEXT)",
                    f"INSERT INTO notes VALUES ({HOME}, '0'), ({HOME}, 'b'), ({HOME}, 'z')",
                    "CREATE INDEX notes_named ON notes (member_name) WHERE member_name > 'm' COLLATE backwards")
    before = snapshot(legacy)
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out, maps=("notes=guild:guild_id",)))
    assert report.tables["notes"].written == 3 and snapshot(legacy) == before
    # erasure of the guild from the kept backup leaves no entry of its rows in that index
    [backup] = legacy.parent.glob("database.db.backup-*")
    assert erase_from_copies(out, guild_id=HOME)[str(backup.resolve())] > 0
    assert rows(backup, "SELECT count(*) FROM sqlite_master WHERE name = 'notes_named'") == [(0,)]


def test_erasure_in_a_kept_copy_spelled_in_another_case_takes_the_votes_on_erased_rows(legacy: Path,
                                                                                     tmp_path: Path) -> None:
    alter(legacy, "ALTER TABLE recommendations RENAME TO tmp_r", "ALTER TABLE tmp_r RENAME TO Recommendations")
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out))
    [(user_id,)] = rows(legacy, "SELECT r.discord_id FROM Recommendations r JOIN recommendation_feedback f "
                                "ON f.recommendation_id = r.id LIMIT 1")
    erase_from_copies(out, user_id=user_id)
    [backup] = legacy.parent.glob("database.db.backup-*")
    assert rows(backup, "SELECT count(*) FROM recommendation_feedback WHERE recommendation_id NOT IN "
                        "(SELECT id FROM Recommendations)") == [(0,)]


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))  # a TMPDIR without room for the copy


def test_a_dry_run_without_room_in_tmpdir_says_so_in_one_sentence(legacy: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = snapshot(legacy)
    done = subprocess.run([sys.executable, str(SCRIPT), str(legacy), "--out", str(tmp_path / "o"), "--dry-run"],
                          capture_output=True, text=True, timeout=120, preexec_fn=_small_files,
                          env={"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "temporary" in done.stderr and "TMPDIR" in done.stderr and str(scratch) in done.stderr
    assert "split stopped" not in done.stderr
    assert snapshot(legacy) == before and not (tmp_path / "o").exists() and not any(scratch.iterdir())


def test_a_dry_run_killed_with_minus_9_leaves_its_copy_only_until_the_next_run(legacy: Path, tmp_path: Path) -> None:
    scratch, out = tmp_path / "scratch", tmp_path / "o"
    scratch.mkdir()
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"}
    before = snapshot(legacy)
    paused = subprocess.Popen([sys.executable, str(SCRIPT), str(legacy), "--out", str(out), "--dry-run"],
                              stderr=subprocess.PIPE, text=True, env={**env, PAUSE_ENV: "stage:1"})
    assert paused.stderr is not None and "paused" in paused.stderr.readline()
    paused.kill()
    paused.wait(timeout=30)
    paused.stderr.close()
    [left] = [p for p in scratch.iterdir() if p.name.startswith("legacy-dry-run-")]
    assert (left / "legacy.db").exists()  # every member of every guild, which no erasure reaches
    for folder in scratch.iterdir():  # a minute later: no live run made them just now
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    done = subprocess.run([sys.executable, str(SCRIPT), str(legacy), "--out", str(out), "--dry-run"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert not list(scratch.iterdir()) and not out.exists() and snapshot(legacy) == before
