"""The summary line of a whole restore counts each outcome as what it is."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.backup.restore import RestoreResult
from app.cli import backup as backup_cli
from app.cli import main


def test_a_whole_restore_mixing_outcomes_counts_only_the_files_it_restored_as_restored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path / "dbs"))
    generation = tmp_path / "backups" / "g"
    monkeypatch.setattr(backup_cli, "latest_generation", lambda source: generation)
    monkeypatch.setattr(backup_cli, "restore_files", lambda *a, **k: [
        RestoreResult("1.sqlite3", "restored"), RestoreResult("2.sqlite3", "unchanged"),
        RestoreResult("3.sqlite3", "deleted", "deleted after this backup")])

    code = main(["restore", "--from", str(tmp_path / "backups")])

    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("1 of 3 file(s) restored from"), summary
    assert "1 already as in it" in summary and "1 deleted since" in summary, summary
