"""The SQLite engine: pysqlite3's bundled SQLite where the platform's predates the WAL-reset fix."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app import engine
from app.db.native import skip_checkpoint_on_close

pysqlite3 = pytest.importorskip("pysqlite3.dbapi2")
ROOT = Path(__file__).resolve().parents[1]


def fake_platform(version: str) -> Any:
    return SimpleNamespace(sqlite_version=version, __name__="sqlite3")


def test_auto_takes_the_bundled_engine_only_where_the_platforms_lacks_the_fix() -> None:
    old, new = fake_platform("3.40.1"), fake_platform("3.51.3")
    assert engine.choose("auto", old) is pysqlite3
    assert engine.choose("auto", new) is new
    assert engine.choose("stdlib", old) is old
    assert engine.choose("pysqlite3", new) is pysqlite3
    assert engine.choose("nonsense", old) is pysqlite3  # auto: app/config.py refuses it for every command


def test_the_bots_engine_keeps_the_no_checkpoint_on_close_setting(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.sqlite3")
    try:
        assert skip_checkpoint_on_close(conn)
    finally:
        conn.close()
    assert engine.describe().name in ("sqlite3", "pysqlite3")


@pytest.mark.parametrize("choice", ["stdlib", "auto"])
def test_every_import_of_sqlite3_gets_the_chosen_engine(choice: str) -> None:
    code = ("import app, sqlite3; from app.db import files; from app.db import native;"
            "assert files.sqlite3 is sqlite3 is native.sqlite3; print(sqlite3.__name__, sqlite3.sqlite_version)")
    env = {**os.environ, engine.ENV: choice}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    platform_version = subprocess.run([sys.executable, "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
                                      capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    platform_fixed = tuple(int(p) for p in platform_version.split(".")) >= engine.FIXED_IN
    if choice == "stdlib" or platform_fixed:
        assert out == ["sqlite3", platform_version]
    else:
        assert out == ["pysqlite3.dbapi2", pysqlite3.sqlite_version]
        assert engine.describe(pysqlite3).has_wal_reset_fix


def test_server_info_and_db_check_name_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from app.bot.queries import GuildReport
    from app.cli import main
    from app.extensions.server import info_embed

    fields = {f.name: f.value for f in info_embed(GuildReport(1, 0, 2, {}), None).fields}
    assert fields["Engine"] == str(engine.describe()) and sqlite3.sqlite_version in fields["Engine"]
    conn = sqlite3.connect(tmp_path / "bot-wide.sqlite3")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path))
    assert main(["db", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["sqlite_engine"], out["sqlite_version"]) == (engine.describe().name, sqlite3.sqlite_version)


def test_an_unknown_engine_choice_gets_one_sentence_not_a_warning_first(tmp_path: Path) -> None:
    env = {**os.environ, engine.ENV: "bogus", "GUILD_DBS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "app", "guild", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "GUILDSHELF_SQLITE must be one of AUTO, STDLIB, PYSQLITE3, not 'bogus'."]
