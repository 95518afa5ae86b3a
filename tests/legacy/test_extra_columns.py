"""A legacy table the old bot extended (`ALTER TABLE … ADD COLUMN`) keeps its extra columns in the guild files.

The split used to stop on a column the new schema lacks, and the only way on was `--map T=skip`, which drops the
whole table. The extra column is now added to the table in the files that receive it, untyped in SQLite's sense
(`ANY` in a STRICT table), so every value is kept exactly as it was stored.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.db.ids import guild_file_name
from app.errors import LegacySplitError
from app.legacy import SplitOptions, split_legacy
from tests.legacy.helpers import HOME, alter, manifest, rows, snapshot

_EXTEND = (
    "ALTER TABLE users ADD COLUMN theme TEXT",
    "ALTER TABLE users ADD COLUMN \"Odd 'name'\"",  # no declared type, a name that needs quoting
    "UPDATE users SET theme = 'dark' WHERE discord_id % 2 = 0",
    "UPDATE users SET \"Odd 'name'\" = x'00ff' WHERE discord_id % 3 = 0",
    "UPDATE users SET theme = 7 WHERE discord_id % 5 = 0",  # an integer in a TEXT column, as SQLite lets it be
    "ALTER TABLE invites ADD COLUMN note VARCHAR(20)",
    "UPDATE invites SET note = 'from ' || code",
)


def test_extra_columns_are_kept_with_their_rows(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, *_EXTEND)
    before = snapshot(legacy)
    out = tmp_path / "guild_dbs"

    report = split_legacy(SplitOptions(legacy, out))

    assert all(c.balanced for c in report.tables.values())
    assert report.tables["users"].written == rows(legacy, "SELECT count(*) FROM users")[0][0]
    assert "users.theme" in report.message and "invites.note" in report.message
    home = out / guild_file_name(HOME)
    legacy_users = rows(legacy, "SELECT discord_id, theme, typeof(theme), \"Odd 'name'\" FROM users ORDER BY 1")
    assert rows(home, "SELECT discord_id, theme, typeof(theme), \"Odd 'name'\" FROM users ORDER BY 1") == legacy_users
    for guild_id, code, note in rows(legacy, "SELECT guild_id, code, note FROM invites"):
        assert rows(out / guild_file_name(guild_id), "SELECT note FROM invites WHERE code = ?", (code,)) == [(note,)]
    assert manifest(out)["extended_tables"] == {"invites": ["note"], "users": ["theme", "Odd 'name'"]}
    assert snapshot(legacy) == before  # the legacy file is never touched


def test_the_bot_uses_and_the_data_rights_reach_an_extended_table(
        legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    alter(legacy, *_EXTEND)
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(legacy, out))
    member = rows(legacy, "SELECT discord_id FROM users WHERE theme = 'dark' ORDER BY 1 LIMIT 1")[0][0]

    async def use() -> str:
        async with GuildDatabaseManager(out) as manager, manager.connect(HOME) as db:
            await db.execute("UPDATE users SET username = 'renamed' WHERE discord_id = ?", (member,))
            row = await db.execute_fetchone("SELECT username, theme FROM users WHERE discord_id = ?", (member,))
            assert row is not None
            return f"{row[0]}/{row[1]}"

    assert asyncio.run(use()) == "renamed/dark"
    monkeypatch.setenv("GUILD_DBS_DIR", str(out))
    assert main(["user", "export", str(member), "--out", str(tmp_path / "export")]) == 0
    exported = json.loads((tmp_path / "export" / f"guild-{HOME}.json").read_text())
    assert [r["theme"] for r in exported["tables"]["users"]] == ["dark"]
    capsys.readouterr()
    assert main(["user", "forget", str(member), "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["failed"] == {}
    assert rows(out / guild_file_name(HOME), "SELECT count(*) FROM users WHERE discord_id = ?", (member,)) == [(0,)]


def test_a_dry_run_shows_the_columns_it_would_add(legacy: Path, tmp_path: Path) -> None:
    alter(legacy, *_EXTEND)
    report = split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs", dry_run=True))
    assert report.plan["added_columns"] == {"invites": ["note"], "users": ["theme", "Odd 'name'"]}
    assert not report.plan["would_stop"]
    assert not (tmp_path / "guild_dbs").exists()


@pytest.mark.parametrize(("statement", "named"), [
    ("ALTER TABLE users ADD COLUMN referrer_id INTEGER", "users.referrer_id"),  # may name a member: whose row?
    ("ALTER TABLE users ADD COLUMN referrerId INTEGER", "users.referrerId"),
    ("ALTER TABLE invites ADD COLUMN creatorid", "invites.creatorid"),
    ("ALTER TABLE manga_cache ADD COLUMN cover_colour TEXT", "manga_cache.cover_colour"),  # the bot-wide file
])
def test_an_extra_column_the_split_cannot_place_still_stops_it(legacy: Path, tmp_path: Path, statement: str,
                                                              named: str) -> None:
    alter(legacy, statement)
    out = tmp_path / "guild_dbs"
    with pytest.raises(LegacySplitError) as caught:
        split_legacy(SplitOptions(legacy, out))
    assert named.split(".")[1] in caught.value.user_message and named.split(".")[0] in caught.value.user_message
    assert not out.exists() or not list(out.glob("*.sqlite3"))
