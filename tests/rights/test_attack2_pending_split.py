"""The refusal of the rights commands while LEGACY_DB waits for its split, against what `run` and
`legacy status` would do with the same LEGACY_DB."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.legacy.splitter import SplitOptions, split_legacy
from app.legacy.testing import build_legacy_db

GUILD = 9001


def test_a_split_of_another_legacy_file_in_the_folder_does_not_let_forget_run(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The folder holds the split of an older legacy file; LEGACY_DB is another one (or this one written to
    # since): `run` refuses to start on it, and its rows are in no guild file, so a forget or an export now
    # would be undone by (or lack) the split that must still come.
    first, other = tmp_path / "old.db", tmp_path / "database.db"
    build_legacy_db(first, users=5, guilds=2, seed=1)
    split_legacy(SplitOptions(first, root, None))
    build_legacy_db(other, users=5, guilds=2, seed=2)
    monkeypatch.setenv("LEGACY_DB", str(other))
    before = sorted((p.name, p.stat().st_size) for p in root.iterdir())
    capsys.readouterr()

    code = main(["user", "forget", "7", "--yes"])

    err = capsys.readouterr().err.strip()
    assert code == 1 and str(other) in err and err.count("\n") == 0, err
    assert sorted((p.name, p.stat().st_size) for p in root.iterdir()) == before


@pytest.mark.parametrize("shape", ["split by hand, file left", "empty file", "no file"])
def test_legacy_status_says_pending_exactly_when_the_rights_commands_refuse(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], shape: str) -> None:
    legacy = tmp_path / "database.db"
    if shape == "split by hand, file left":
        build_legacy_db(legacy, users=5, guilds=2, seed=1)
        split_legacy(SplitOptions(legacy, root, None))
    elif shape == "empty file":
        legacy.touch()
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    capsys.readouterr()

    assert main(["legacy", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert main(["legacy", "status"]) == 0
    text = capsys.readouterr().out
    refused = main(["user", "export", "7", "--out", str(tmp_path / "x")]) == 1

    assert status["pending_split"] is refused is ("not split yet" in text), (status, text)


def test_legacy_status_says_pending_while_the_refusal_holds(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    legacy = tmp_path / "database.db"
    build_legacy_db(legacy, users=5, guilds=2, seed=1)
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    capsys.readouterr()

    assert main(["legacy", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pending_split"] is True
    assert main(["user", "forget", "7", "--yes"]) == 1
    assert not any(p.name.startswith(".forget-") for p in root.iterdir())  # nothing written before it


def test_purge_expired_waits_for_the_split_too_and_its_dry_run_does_not(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Purged now, a server's rows would come back with the split that must still run.
    legacy = tmp_path / "database.db"
    build_legacy_db(legacy, users=5, guilds=2, seed=2)
    monkeypatch.setenv("LEGACY_DB", str(legacy))
    capsys.readouterr()

    assert main(["guild", "purge-expired"]) == 1
    err = capsys.readouterr().err.strip()
    assert str(legacy) in err and err.count("\n") == 0, err
    assert main(["guild", "purge-expired", "--dry-run", "--json"]) == 0
