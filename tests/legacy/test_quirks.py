"""Years of a real file: unknown tables, unusable guild ids, STRICT misfits, orphans, odd text."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.db.ids import guild_file_name
from app.errors import UnknownLegacyTablesError
from app.legacy import SplitOptions, split_legacy
from app.legacy.rules import MAP_SYNTAX
from tests.legacy.helpers import HOME, rows

GIVEAWAYS = "giveaway_entries=guild:guild_id,subjects=user_id"


def test_unknown_table_stops_before_anything_is_written(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    before = sorted(p.name for p in quirky.parent.iterdir())
    with pytest.raises(UnknownLegacyTablesError) as caught:
        split_legacy(SplitOptions(quirky, out))
    assert "giveaway_entries" in caught.value.user_message
    assert MAP_SYNTAX in caught.value.user_message
    assert caught.value.tables == ["giveaway_entries"]
    assert not out.exists()
    assert sorted(p.name for p in quirky.parent.iterdir()) == before  # no backup either


def test_rows_without_a_usable_guild_id_are_quarantined_and_counted(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(quirky, out, maps=(GIVEAWAYS,)))
    uses = report.tables["invite_uses"]
    assert uses.quarantined == 3 and uses.written + uses.quarantined == uses.read
    assert report.quarantine is not None and report.quarantine.parent == out
    kept = rows(report.quarantine, "SELECT guild_id, _reason FROM invite_uses ORDER BY _legacy_rowid")
    assert [k[0] for k in kept] == ["dm", -5, 0]
    assert all("not a Discord server id" in k[1] for k in kept)


def test_a_row_that_breaks_strict_typing_is_quarantined_with_sqlites_reason(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(quirky, out, maps=(GIVEAWAYS,)))
    xp = report.tables["user_xp"]
    assert xp.quarantined == 1 and xp.written == xp.read - 1
    assert report.quarantine is not None
    (value, reason), = rows(report.quarantine, "SELECT xp, _reason FROM user_xp")
    assert value == "lots" and "INTEGER" in reason
    assert rows(out / guild_file_name(HOME), "SELECT count(*) FROM user_xp") == [(xp.written,)]


def test_orphans_are_copied_as_they_are_and_counted(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(quirky, out, maps=(GIVEAWAYS,)))
    orphaned = rows(quirky, "SELECT count(*) FROM user_progress WHERE challenge_id = 1")[0][0]
    assert report.tables["user_progress"].orphans == orphaned > 0
    assert report.tables["challenge_manga"].orphans == 5
    home = out / guild_file_name(HOME)
    assert rows(home, "SELECT count(*) FROM user_progress WHERE challenge_id = 1") == [(orphaned,)]
    assert rows(home, "SELECT title FROM user_manga_progress WHERE discord_id = 123456789012345678") == [("Orphan",)]


def test_awkward_unicode_survives_byte_for_byte(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(quirky, out, maps=(GIVEAWAYS,)))
    names = sorted(r[0] for r in rows(quirky, "SELECT username FROM users"))
    assert sorted(r[0] for r in rows(out / guild_file_name(HOME), "SELECT username FROM users")) == names
    assert 'line1\nline2\t"quoted" 🌸 \\ %_' in names


def test_a_guild_known_only_from_a_leave_gets_its_own_file(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(quirky, out, maps=(GIVEAWAYS,)))
    lone = {r[0] for r in rows(quirky, "SELECT guild_id FROM user_leaves")} - {
        r[0] for r in rows(quirky, "SELECT guild_id FROM invite_uses")}
    assert len(lone) == 1
    (guild_id,) = lone
    assert guild_id in report.guilds
    assert rows(out / guild_file_name(guild_id), "SELECT count(*) FROM user_leaves") == [(1,)]


def test_operator_mapped_table_is_created_in_each_guild_and_skip_is_counted(quirky: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(quirky, out, maps=(GIVEAWAYS, "steam_games=skip")))
    assert report.tables["giveaway_entries"].written == 25
    assert report.tables["steam_games"].skipped == report.tables["steam_games"].read > 0
    assert rows(out / guild_file_name(HOME), "SELECT count(*) FROM steam_games") == [(0,)]
    has_table = "SELECT count(*) FROM sqlite_master WHERE name = 'giveaway_entries'"
    total = sum(rows(out / guild_file_name(g), has_table)[0][0] for g in report.guilds)
    per_guild = {r[0] for r in rows(quirky, "SELECT DISTINCT guild_id FROM giveaway_entries")}
    assert total == len(per_guild)


def test_a_table_with_an_awkward_name_can_be_mapped(legacy: Path, tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(legacy)
    conn.execute('CREATE TABLE "odd ""name"" t" ("the guild" INTEGER, v TEXT)')
    conn.executemany('INSERT INTO "odd ""name"" t" VALUES (?, ?)', [(HOME, "a"), ("x", "b")])
    conn.commit()
    conn.close()
    out = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, out, maps=('odd "name" t=guild:the guild',)))
    counts = report.tables['odd "name" t']
    assert (counts.written, counts.quarantined) == (1, 1)
    assert rows(out / guild_file_name(HOME), 'SELECT v FROM "odd ""name"" t"') == [("a",)]


def test_a_table_with_only_its_guild_column_must_be_skipped(legacy: Path, tmp_path: Path) -> None:
    import sqlite3

    from app.errors import LegacySplitError

    conn = sqlite3.connect(legacy)
    conn.execute("CREATE TABLE seen (guild_id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LegacySplitError) as caught:
        split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs", maps=("seen=guild:guild_id",)))
    assert "--map seen=skip" in caught.value.user_message
    report = split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs", maps=("seen=skip",)))
    assert report.tables["seen"].skipped == 0 == report.tables["seen"].read
