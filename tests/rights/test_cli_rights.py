from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from app.cli import build_parser, main
from tests.rights.conftest import ALICE

GUILD, OTHER = 9001, 9002


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_every_rights_command_has_help() -> None:
    groups = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for group, names in {"guild": ("export", "delete", "purge-expired", "receipts"),
                         "user": ("export", "forget")}.items():
        sub = groups[group]._subparsers._group_actions[0]  # type: ignore[index]
        helps = {a.dest: a.help for a in sub._choices_actions}
        for name in names:
            assert helps[name], f"{group} {name} has no help"
            assert "--json" in sub.choices[name].format_help()


def test_guild_export_both_formats(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guild", "export", str(GUILD), "--out", str(tmp_path / "g.sqlite3"), "--json"]) == 0
    assert _json(capsys)["rows"] > 0
    assert main(["guild", "export", str(GUILD), "--out", str(tmp_path / "g.zip"), "--format", "json"]) == 0
    assert "Exported server 9001" in capsys.readouterr().out
    conn = sqlite3.connect(tmp_path / "g.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 3
    finally:
        conn.close()


def test_guild_export_of_an_unknown_guild_fails_with_one_sentence(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guild", "export", "123", "--out", str(tmp_path / "x.sqlite3")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"Server 123 has no data file in {root}."
    assert not (root / "123.sqlite3").exists()


def test_guild_delete_needs_yes_then_deletes_with_a_receipt(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guild", "delete", str(GUILD)]) == 1
    assert "--yes" in capsys.readouterr().err
    assert (root / f"{GUILD}.sqlite3").exists()
    assert main(["guild", "delete", str(GUILD), "--yes", "--json"]) == 0
    assert _json(capsys)["receipt"]["requested_by"] == "operator:cli"
    assert not (root / f"{GUILD}.sqlite3").exists()
    assert main(["guild", "delete", str(GUILD), "--yes"]) == 1
    assert "no data file" in capsys.readouterr().err
    assert main(["guild", "receipts", "--json"]) == 0
    assert [r["guild_id"] for r in _json(capsys)["receipts"]] == [GUILD]


def test_purge_expired_dry_run_then_for_real(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guild", "purge-expired", "--dry-run", "--json"]) == 0
    assert [g["outcome"] for g in _json(capsys)["guilds"]] == ["would delete"]
    assert (root / f"{OTHER}.sqlite3").exists()
    assert main(["guild", "purge-expired"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert not (root / f"{OTHER}.sqlite3").exists()
    assert (root / f"{GUILD}.sqlite3").exists()


def test_user_export_and_forget(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "export", str(ALICE), "--out", str(tmp_path / "alice"), "--json"]) == 0
    assert _json(capsys)["guilds_touched"] == [GUILD, OTHER]
    assert main(["user", "forget", str(ALICE)]) == 1
    assert main(["user", "forget", str(ALICE), "--yes"]) == 0
    assert f"User {ALICE}: 2 of 2 guild(s) touched" in capsys.readouterr().out
    assert main(["user", "forget", str(ALICE), "--yes", "--json"]) == 0
    assert _json(capsys)["guilds_touched"] == []
    assert main(["user", "forget", "abc", "--yes"]) == 1


def test_guild_delete_refuses_while_another_process_holds_the_file(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = sqlite3.connect(root / f"{GUILD}.sqlite3")  # a running bot in another process, as SQLite sees it
    try:
        other.execute("SELECT COUNT(*) FROM users").fetchone()
        assert main(["guild", "delete", str(GUILD), "--yes"]) == 1
    finally:
        other.close()
    assert "open in another process" in capsys.readouterr().err
    assert (root / f"{GUILD}.sqlite3").exists()


def test_user_forget_waits_for_a_writer_in_another_process(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writer = sqlite3.connect(root / f"{GUILD}.sqlite3", isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, 5) ON CONFLICT DO UPDATE SET xp = 5", (ALICE,))
    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    try:
        assert main(["user", "forget", str(ALICE), "--yes", "--json"]) == 0
    finally:
        release.join()
        writer.close()
    assert _json(capsys)["guilds_touched"] == [GUILD, OTHER]
    check = sqlite3.connect(root / f"{GUILD}.sqlite3")
    try:
        assert check.execute("SELECT COUNT(*) FROM user_xp WHERE discord_id = ?", (ALICE,)).fetchone()[0] == 0
    finally:
        check.close()


def test_guild_export_of_another_guilds_file_under_this_name_refuses_and_leaves_it(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    misnamed = root / "7777.sqlite3"
    misnamed.write_bytes((root / f"{GUILD}.sqlite3").read_bytes())  # the fixture's manager closed: all in the file
    before = sorted(p.name for p in root.iterdir())

    code = main(["guild", "export", "7777", "--out", str(tmp_path / "x.sqlite3")])

    err = capsys.readouterr().err.strip()
    assert code == 1 and f"records guild {GUILD}" in err and "nothing was exported" in err, err
    assert sorted(p.name for p in root.iterdir()) == before  # not set aside: an export changes nothing
    assert not (tmp_path / "x.sqlite3").exists()


@pytest.mark.parametrize("command", [["user", "forget", "7", "--yes"], ["user", "export", "7", "--out", "x"],
                                     ["guild", "delete", str(GUILD), "--yes"],
                                     ["guild", "export", str(GUILD), "--out", "g.sqlite3"]])
def test_rights_commands_refuse_while_the_legacy_database_waits_for_its_split(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    # The next `run` splits LEGACY_DB into these files: a member forgotten (or a server deleted) now would come
    # back from it, and an export now would lack the member's legacy rows.
    from app.legacy.testing import build_legacy_db

    legacy = tmp_path / "database.db"
    build_legacy_db(legacy, users=5, guilds=2, seed=1)
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    before = sorted((p.name, p.stat().st_size) for p in root.iterdir())
    capsys.readouterr()

    assert main(command) == 1

    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(legacy) in err and "legacy split" in err, err
    assert sorted((p.name, p.stat().st_size) for p in root.iterdir()) == before
    assert not (tmp_path / "x").exists() and not (tmp_path / "g.sqlite3").exists()


def test_once_split_by_hand_the_legacy_file_left_in_place_stops_nothing(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.legacy.splitter import SplitOptions, split_legacy
    from app.legacy.testing import build_legacy_db

    legacy = tmp_path / "database.db"
    build_legacy_db(legacy, users=5, guilds=2, seed=1)
    split_legacy(SplitOptions(legacy, root, None))  # as scripts/split_legacy_db.py does: the file stays
    monkeypatch.setenv("LEGACY_DB", str(legacy))

    assert legacy.exists() and main(["user", "forget", "7", "--yes"]) == 0  # the next split changes nothing
