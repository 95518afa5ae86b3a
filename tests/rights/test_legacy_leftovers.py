"""Items 2 and 3: the split's quarantine file and set-aside damaged guild files are covered by data rights."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager, registry
from app.errors import DatabaseQuarantinedError
from app.legacy import SplitOptions, split_legacy
from app.legacy.testing import build_legacy_db
from app.rights.retention import purge_expired
from tests.legacy.helpers import HOME, rows

USER = 555_000_000_000_000_001
OTHER_GUILD = 666_000_000_000_000_001


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A split whose quarantine file holds USER's whole row and rows of OTHER_GUILD."""
    legacy = tmp_path / "old" / "database.db"
    legacy.parent.mkdir()
    build_legacy_db(legacy, users=20, guilds=3, seed=7)
    conn = sqlite3.connect(legacy)
    with conn:
        conn.execute("INSERT INTO users (discord_id, username, anilist_id) VALUES (?, 'quarantined-me', 'n/a')",
                     (USER,))
        conn.execute("INSERT INTO invite_uses (guild_id, joiner_id) VALUES ('dm', ?)", (USER,))
        conn.execute("INSERT INTO invites (guild_id, code, inviter_id, uses) VALUES (?, 'zz', 1, 'many')",
                     (OTHER_GUILD,))
        conn.execute("INSERT INTO invites (guild_id, code, inviter_id, uses) VALUES (?, 'ok', 1, 1)",
                     (OTHER_GUILD,))
    conn.close()
    target = tmp_path / "guild_dbs"
    report = split_legacy(SplitOptions(legacy, target))
    assert report.quarantine is not None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILD_DBS_DIR", str(target))
    return target


def _quarantine(out: Path) -> Path:
    [path] = out.glob("legacy-quarantine-*.sqlite3")
    return path


def test_member_export_includes_their_quarantined_rows(out: Path, tmp_path: Path) -> None:
    assert main(["user", "export", str(USER), "--out", str(tmp_path / "export"), "--json"]) == 0
    data = json.loads((tmp_path / "export" / "legacy-quarantine.json").read_text())
    tables = data["quarantine_files"][_quarantine(out).name]
    assert [r["username"] for r in tables["users"]] == ["quarantined-me"]
    assert [r["joiner_id"] for r in tables["invite_uses"]] == [USER]


def test_member_erasure_reaches_the_quarantine_file(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quarantine = _quarantine(out)
    assert rows(quarantine, "SELECT count(*) FROM users WHERE discord_id = ?", (USER,)) == [(1,)]
    assert main(["user", "forget", str(USER), "--yes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["legacy_files"][str(quarantine)] == 2  # (the split's backup beside the legacy file too)
    assert rows(quarantine, "SELECT count(*) FROM users WHERE discord_id = ?", (USER,)) == [(0,)]
    assert rows(quarantine, "SELECT count(*) FROM invite_uses WHERE joiner_id = ?", (USER,)) == [(0,)]
    assert b"quarantined-me" not in quarantine.read_bytes()


def test_guild_deletion_reaches_the_quarantine_file(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quarantine = _quarantine(out)
    assert rows(quarantine, "SELECT count(*) FROM invites WHERE guild_id = ?", (OTHER_GUILD,)) == [(1,)]
    assert main(["guild", "delete", str(OTHER_GUILD), "--yes", "--json"]) == 0
    assert str(quarantine) in json.loads(capsys.readouterr().out)["legacy_files"]
    assert rows(quarantine, "SELECT count(*) FROM invites WHERE guild_id = ?", (OTHER_GUILD,)) == [(0,)]
    assert rows(quarantine, "SELECT count(*) FROM users WHERE discord_id = ?", (USER,)) == [(1,)]  # home's


def _damage(root: Path, guild_id: int) -> Path:
    """A guild file the manager refuses and sets aside as `<id>.sqlite3.quarantined-<stamp>`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{guild_id}.sqlite3").write_bytes(b"not a database at all" * 100)

    async def open_it() -> None:
        async with GuildDatabaseManager(root, max_open=1) as manager:
            with pytest.raises(DatabaseQuarantinedError):
                async with manager.connect(guild_id):
                    pass
    asyncio.run(open_it())
    [set_aside] = root.glob(f"{guild_id}.sqlite3.quarantined-*")
    return set_aside


def test_guild_delete_removes_a_damaged_copy_set_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "dbs"
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    set_aside = _damage(root, HOME)
    assert main(["guild", "delete", str(HOME), "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["set_aside_removed"] == [set_aside.name]
    assert not set_aside.exists() and not list(root.glob(f"*{HOME}*"))


def test_retention_purge_removes_a_damaged_copy_set_aside(tmp_path: Path) -> None:
    root = tmp_path / "dbs"
    set_aside = _damage(root, HOME)

    async def purge() -> list[str]:
        async with GuildDatabaseManager(root, max_open=1) as manager:
            async with manager.connect_bot() as bot_db:
                await registry.record_leave(bot_db, HOME, retention_days=0)
            return [r.outcome for r in await purge_expired(manager)]
    assert asyncio.run(purge()) == ["deleted"]
    assert not set_aside.exists()
