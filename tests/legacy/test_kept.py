"""Item 1: the kept legacy copies (set-aside file, split backups): listed, erased from, retired."""
from __future__ import annotations

import asyncio
import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.config import Settings
from app.db import GuildDatabaseManager
from app.legacy.kept import list_kept
from app.legacy.launch import split_at_launch
from app.legacy.testing import write_and_leave_in_wal
from app.rights.retention import retire_legacy_copies
from tests.legacy.helpers import HOME, manifest, rows


@pytest.fixture
def split(legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The launch split done, the legacy file set aside with a -wal; the CLI pointed at both."""
    write_and_leave_in_wal(legacy, "INSERT INTO bot_settings VALUES ('last_write', 'in the wal')")
    settings = Settings(guild_dbs_dir=tmp_path / "guild_dbs", legacy_db=legacy)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILD_DBS_DIR", str(settings.guild_dbs_dir))
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    assert split_at_launch(settings) is not None
    return settings


def _kept(settings: Settings) -> dict[str, Path]:
    found: dict[str, Path] = {k.kind: k.path for k in list_kept(settings.guild_dbs_dir, settings.legacy_db)}
    assert set(found) == {"set-aside", "backup"}
    return found


def _out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_status_lists_every_kept_copy_with_size_and_age(split: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["legacy", "status", "--json"]) == 0
    status = json.loads(_out(capsys))
    kinds = {Path(f["path"]).name.split(".")[2].split("-")[0]: f for f in status["files"]}
    assert set(kinds) == {"split", "backup"}
    assert all(f["size_bytes"] > 0 and f["age_days"] < 1 for f in status["files"])
    kept = Path(kinds["split"]["path"])
    assert kinds["split"]["size_bytes"] >= kept.stat().st_size + Path(f"{kept}-wal").stat().st_size
    assert status["retire_after"] and status["keep_days"] == 30
    assert main(["legacy", "status"]) == 0
    assert "LEGACY_KEEP_DAYS=30" in _out(capsys)


def test_user_forget_erases_the_member_from_every_kept_copy(split: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    kept = _kept(split)
    [(user_id,)] = rows(kept["backup"], "SELECT joiner_id FROM invite_uses WHERE guild_id = ? LIMIT 1", (HOME,))
    rows(kept["backup"], "SELECT 1")  # readable before
    (home_user,) = rows(kept["backup"], "SELECT discord_id FROM users LIMIT 1")[0]
    for victim in (user_id, home_user):
        assert main(["user", "forget", str(victim), "--yes", "--json"]) == 0
        report = json.loads(_out(capsys).strip().splitlines()[-1])
        assert set(report["legacy_files"]) == {str(kept["set-aside"]), str(kept["backup"])}
        for path in kept.values():
            assert rows(path, "SELECT count(*) FROM invite_uses WHERE joiner_id = ?", (victim,)) == [(0,)]
            assert rows(path, "SELECT count(*) FROM users WHERE discord_id = ?", (victim,)) == [(0,)]
            assert rows(path, "SELECT count(*) FROM user_leaves WHERE inviter_id = ? OR user_id = ?",
                        (victim, victim)) == [(0,)]
    assert rows(kept["set-aside"], "SELECT value FROM bot_settings WHERE key = 'last_write'") == [("in the wal",)]
    assert not Path(f"{kept['set-aside']}-wal").exists() or Path(f"{kept['set-aside']}-wal").stat().st_size == 0


def test_user_forget_names_the_kept_files_in_its_text_output(split: Settings,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    kept = _kept(split)
    (user_id,) = rows(kept["backup"], "SELECT discord_id FROM users LIMIT 1")[0]
    assert main(["user", "forget", str(user_id), "--yes"]) == 0
    out = _out(capsys)
    assert f"{kept['set-aside']}: " in out and f"{kept['backup']}: " in out


def test_guild_delete_erases_the_guild_from_every_kept_copy(split: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    kept = _kept(split)
    other = next(g for (g,) in rows(kept["backup"], "SELECT DISTINCT guild_id FROM invites") if g != HOME)
    assert main(["guild", "delete", str(other), "--yes", "--json"]) == 0
    deletion = json.loads(_out(capsys))
    assert set(deletion["legacy_files"]) == {str(kept["set-aside"]), str(kept["backup"])}
    for path in kept.values():
        for table in ("invites", "invite_uses", "recruitment_stats", "user_leaves", "invite_tracker_settings"):
            assert rows(path, f"SELECT count(*) FROM {table} WHERE guild_id = ?", (other,)) == [(0,)]
        assert rows(path, "SELECT count(*) FROM users")[0][0] > 0  # the home guild's members stay
    assert main(["guild", "delete", str(HOME), "--yes"]) == 0
    assert "row(s) of server" in _out(capsys)
    for path in kept.values():
        assert rows(path, "SELECT count(*) FROM users") == [(0,)]
        assert rows(path, "SELECT count(*) FROM invites WHERE guild_id = ?", (HOME,)) == [(0,)]
        assert rows(path, "SELECT count(*) FROM manga_cache")[0][0] > 0  # public data, no one's


def test_retire_removes_every_kept_copy_with_its_side_files_and_writes_a_receipt(
        split: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    kept = _kept(split)
    assert main(["legacy", "retire"]) == 1  # --yes is required
    assert all(p.exists() for p in kept.values())
    assert main(["legacy", "retire", "--yes", "--json"]) == 0
    result = json.loads(_out(capsys).strip().splitlines()[-1])
    assert sorted(result["removed"]) == sorted(str(p) for p in kept.values())
    for path in kept.values():
        assert not any(Path(f"{path}{s}").exists() for s in ("", "-wal", "-shm", "-journal"))
    receipt = Path(result["receipt"])
    assert receipt.parent == split.guild_dbs_dir / "receipts"
    assert stat.S_IMODE(receipt.stat().st_mode) == 0o600 and stat.S_IMODE(receipt.parent.stat().st_mode) == 0o700
    written = json.loads(receipt.read_text())
    assert {f["name"] for f in written["files"]} == {p.name for p in kept.values()}
    assert main(["legacy", "status", "--json"]) == 0
    assert json.loads(_out(capsys))["files"] == []


def test_kept_copies_are_retired_legacy_keep_days_after_the_split(split: Settings) -> None:
    kept = _kept(split)
    completed = datetime.fromisoformat(manifest(split.guild_dbs_dir)["completed_at"])

    async def upkeep(days_later: float) -> list[str]:
        async with GuildDatabaseManager(split.guild_dbs_dir, max_open=1) as manager:
            return await retire_legacy_copies(manager, 30, now=completed + timedelta(days=days_later))

    assert asyncio.run(upkeep(29.9)) == []
    assert all(p.exists() for p in kept.values())
    assert sorted(asyncio.run(upkeep(30))) == sorted(p.name for p in kept.values())
    assert not any(p.exists() for p in kept.values())
    assert list((split.guild_dbs_dir / "receipts").glob("legacy-retired-*.json"))


def test_legacy_split_does_what_run_does_at_launch(legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "guild_dbs"))
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    assert main(["legacy", "split", "--json"]) == 0
    report = json.loads(_out(capsys))
    assert report["status"] == "split" and "kept as database.db.split-" in report["message"]
    assert not legacy.exists() and list(legacy.parent.glob("database.db.split-*"))
    assert main(["legacy", "split", "--json"]) == 0
    assert json.loads(_out(capsys))["status"] == "nothing-to-split"


def test_every_legacy_command_has_help() -> None:
    from app.cli import build_parser

    groups = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    sub = groups["legacy"]._subparsers._group_actions[0]  # type: ignore[index]
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name in ("status", "split", "retire"):
        assert helps[name] and "--json" in sub.choices[name].format_help()


def test_legacy_keep_days_is_read_from_the_environment() -> None:
    from app.config import load_settings
    from app.errors import ConfigurationError

    assert load_settings({}).legacy_keep_days == 30
    assert load_settings({"LEGACY_KEEP_DAYS": "7"}).legacy_keep_days == 7
    assert load_settings({"LEGACY_KEEP_DAYS": "0"}).legacy_keep_days == 0
    with pytest.raises(ConfigurationError):
        load_settings({"LEGACY_KEEP_DAYS": "-1"})


def test_status_before_the_first_split_says_it_is_pending(legacy: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "not-made-yet"))
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    assert main(["legacy", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pending_split"] is True and report["files"] == []
    assert not (tmp_path / "not-made-yet").exists()
