"""kill -9 anywhere, run again: the same result as an uninterrupted split."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.legacy import SplitOptions, split_legacy
from app.legacy.splitter import PAUSE_ENV
from tests.legacy.helpers import SCRIPT, copy_legacy, manifest, snapshot


def _killed_at(legacy: Path, out: Path, point: str) -> None:
    """Run the script until it reaches `point`, then SIGKILL it."""
    env = {**os.environ, PAUSE_ENV: point}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(legacy), "--out", str(out)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        assert f"paused at {point}" in line, line + proc.stderr.read()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _result(out: Path) -> dict[str, Any]:
    recorded = manifest(out)
    return {"tables": recorded["tables"], "files": recorded["files"], "rules": recorded["rules"],
            "names": sorted(p.name for p in out.iterdir() if not p.name.startswith("legacy-"))}


@pytest.fixture
def reference(legacy: Path, tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "ref").mkdir()
    twin = copy_legacy(legacy, tmp_path / "ref" / "database.db")
    split_legacy(SplitOptions(twin, tmp_path / "ref" / "guild_dbs"))
    return _result(tmp_path / "ref" / "guild_dbs")


@pytest.mark.parametrize("point", ["stage:3", "finish:2"])
def test_split_killed_midway_then_rerun_equals_an_uninterrupted_split(
        legacy: Path, tmp_path: Path, reference: dict[str, Any], point: str) -> None:
    out = tmp_path / "guild_dbs"
    before = snapshot(legacy)
    _killed_at(legacy, out, point)
    assert not (out / "legacy-split-manifest.json").exists()
    report = split_legacy(SplitOptions(legacy, out))
    assert report.status == "split"
    assert _result(out) == reference
    assert snapshot(legacy) == before
    assert len(list(legacy.parent.glob("database.db.backup-*"))) == 1  # the killed run's backup, reused
    assert not (out / ".legacy-split").exists()


def test_kill_during_staging_leaves_no_guild_file_under_its_real_name(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "guild_dbs"
    _killed_at(legacy, out, "stage:2")
    assert list(out.glob("*.sqlite3")) == []
    assert len(list((out / ".legacy-split").glob("*.sqlite3"))) >= 2


def test_a_backup_interrupted_by_a_kill_is_cleared_on_the_rerun(legacy: Path, tmp_path: Path) -> None:
    partial = legacy.with_name(".database.db.backup-20260101T000000Z.partial")
    partial.write_bytes(b"half a backup")
    split_legacy(SplitOptions(legacy, tmp_path / "guild_dbs"))
    assert not partial.exists()
    assert len(list(legacy.parent.glob("database.db.backup-*"))) == 1
