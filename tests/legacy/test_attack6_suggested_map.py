"""Attack 6: an operator who follows the map a stopped split suggests must get an erasable table.

The shared generator's `--quirks` adds `giveaway_entries (guild_id, user_id, prize)`. Mapped to the home
guild without subjects, the split stopped and suggested `subjects=guild_id` (the first `*_id` column):
the split then succeeded, and `user forget` left the member's giveaway rows, their id in `user_id`, in
the home guild file and in the kept backup.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.db.ids import guild_file_name
from app.errors import LegacySplitError
from app.legacy.splitter import SplitOptions, split_legacy
from tests.legacy.helpers import HOME, rows


def _suggested_map(message: str) -> str:
    found = re.search(r"e\.g\. --map (\S+)", message)
    assert found, message
    return found.group(1)


@pytest.mark.parametrize("rule", ["home", "guild:guild_id"])
def test_the_suggested_subjects_name_the_member_column_and_erasure_then_removes_their_rows(
        rule: str, quirky: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "guild_dbs"
    with pytest.raises(LegacySplitError) as stopped:
        split_legacy(SplitOptions(quirky, out, maps=(f"giveaway_entries={rule}",)))
    suggested = _suggested_map(stopped.value.user_message)
    assert "subjects=user_id" in suggested  # not guild_id: a guild id names no member

    split_legacy(SplitOptions(quirky, out, maps=(suggested,)))
    [(guild, member)] = rows(quirky, "SELECT guild_id, user_id FROM giveaway_entries ORDER BY rowid LIMIT 1")
    target = out / guild_file_name(HOME if rule == "home" else guild)
    assert rows(target, "SELECT count(*) FROM giveaway_entries WHERE user_id = ?", (member,))[0][0] >= 1

    from app.cli import main
    monkeypatch.setenv("GUILD_DBS_DIR", str(out))
    monkeypatch.setenv("LEGACY_DB", str(tmp_path / "absent.db"))
    capsys.readouterr()
    assert main(["user", "forget", str(member), "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["failed"] == {}
    for path in out.glob("*.sqlite3"):
        if rows(path, "SELECT count(*) FROM sqlite_master WHERE name = 'giveaway_entries'") == [(1,)]:
            assert rows(path, "SELECT count(*) FROM giveaway_entries WHERE user_id = ?", (member,)) == [(0,)]
