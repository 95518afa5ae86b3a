"""Item 5: `--map` cannot create data that member export and erasure do not reach."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.errors import LegacySplitError
from app.legacy import SplitOptions, split_legacy
from tests.legacy.helpers import rows


@pytest.mark.parametrize("rule", ["giveaway_entries=guild:guild_id", "giveaway_entries=home",
                                  "giveaway_entries=global", "giveaway_entries=global,subjects=user_id",
                                  "giveaway_entries=guild:guild_id,subjects=nobody"])
def test_a_new_table_with_member_columns_needs_its_subjects_and_a_guild(quirky: Path, tmp_path: Path,
                                                                       rule: str) -> None:
    out = tmp_path / "guild_dbs"
    before = sorted(p.name for p in quirky.parent.iterdir())
    with pytest.raises(LegacySplitError) as caught:
        split_legacy(SplitOptions(quirky, out, maps=(rule,)))
    assert "giveaway_entries" in caught.value.user_message
    assert not list(out.glob("*.sqlite3")) if out.exists() else True
    assert sorted(p.name for p in quirky.parent.iterdir()) == before


def test_a_mapped_table_with_subjects_is_exported_and_erased(quirky: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "guild_dbs"
    split_legacy(SplitOptions(quirky, out, maps=("giveaway_entries=guild:guild_id,subjects=user_id",)))
    user_id, guild_id = rows(quirky, "SELECT user_id, guild_id FROM giveaway_entries LIMIT 1")[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILD_DBS_DIR", str(out))
    assert main(["user", "export", str(user_id), "--out", str(tmp_path / "export")]) == 0
    exported = json.loads((tmp_path / "export" / f"guild-{guild_id}.json").read_text())
    assert {r["user_id"] for r in exported["tables"]["giveaway_entries"]} == {user_id}
    capsys.readouterr()
    assert main(["user", "forget", str(user_id), "--yes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["failed"] == {}
    for path in out.glob("*.sqlite3"):
        if "giveaway_entries" in {r[0] for r in rows(path, "SELECT name FROM sqlite_master")}:
            assert rows(path, "SELECT count(*) FROM giveaway_entries WHERE user_id = ?", (user_id,)) == [(0,)]
    assert not list(out.glob(".forget-*.journal"))  # no journal naming the member is left behind
