"""The split's balance check: rows read = written + quarantined + skipped, table by table; made to fire."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.db.ids import guild_file_name
from app.errors import LegacySplitError
from app.legacy import SplitOptions, split_legacy, splitter
from app.legacy.digest import FileDigest
from app.legacy.report import TableCounts, check_balance
from tests.legacy.helpers import HOME, rows, snapshot


@pytest.mark.parametrize("counts", [TableCounts("home", read=0), TableCounts("guild:guild_id", 9, 4, 3, 2),
                                    TableCounts("skip", read=5, skipped=5), TableCounts("home", 7, 7)])
def test_a_table_whose_rows_are_all_accounted_for_balances(counts: TableCounts) -> None:
    check_balance({"t": counts})
    assert counts.balanced


@pytest.mark.parametrize(("read", "written", "quarantined", "skipped"),
                         [(9, 3, 3, 2), (9, 5, 3, 2), (9, 4, 2, 2), (9, 4, 4, 2), (9, 4, 3, 1), (9, 4, 3, 3)])
def test_one_row_too_many_or_too_few_in_any_term_unbalances(read: int, written: int, quarantined: int,
                                                            skipped: int) -> None:
    counts = TableCounts("guild:guild_id", read, written, quarantined, skipped)
    with pytest.raises(LegacySplitError) as caught:
        check_balance({"fine": TableCounts("home", 2, 2), "t": counts})
    assert not counts.balanced
    assert caught.value.user_message == (
        f"The split does not account for every legacy row: t (read {read}, written {written}, "
        f"quarantined {quarantined}, skipped {skipped}); nothing was moved into place, please report this.")


def test_every_unbalanced_table_is_named() -> None:
    with pytest.raises(LegacySplitError) as caught:
        check_balance({"b": TableCounts("home", 1), "a": TableCounts("home", 0, 1), "ok": TableCounts("home", 1, 1)})
    assert caught.value.user_message == (
        "The split does not account for every legacy row: a (read 0, written 1, quarantined 0, skipped 0); "
        "b (read 1, written 0, quarantined 0, skipped 0); nothing was moved into place, please report this.")


def test_a_split_that_loses_a_row_is_refused_and_moves_nothing(legacy: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = splitter.digest_file

    def lose_a_user(path: Path, tables: Sequence[tuple[str, Sequence[str]]]) -> FileDigest:
        if path.name == guild_file_name(HOME):  # the staged home file loses one row before it is counted
            conn = sqlite3.connect(path)
            conn.execute("DELETE FROM users WHERE rowid = (SELECT max(rowid) FROM users)")
            conn.commit()
            conn.close()
        return real(path, tables)

    monkeypatch.setattr(splitter, "digest_file", lose_a_user)
    before = snapshot(legacy)
    out = tmp_path / "guild_dbs"
    with pytest.raises(LegacySplitError) as caught:
        split_legacy(SplitOptions(legacy, out))
    users = rows(legacy, "SELECT count(*) FROM users")[0][0]
    assert caught.value.user_message == (
        f"The split does not account for every legacy row: users (read {users}, written {users - 1}, "
        "quarantined 0, skipped 0); nothing was moved into place, please report this.")
    assert not out.exists()
    assert snapshot(legacy) == before
