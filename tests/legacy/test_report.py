"""The split report as scripts read it (--json) and as an operator reads it (a table)."""
from __future__ import annotations

from pathlib import Path

from app.legacy.report import SplitReport, TableCounts


def _report() -> SplitReport:
    return SplitReport("split", {"users": TableCounts("home", 5, 4, 1, 0, 2),
                                 "invites": TableCounts("guild:guild_id", 3, 3)},
                       [11, 22], 1.23456, manifest=Path("out/m.json"), backup=Path("b.db"), quarantine=Path("q.db"),
                       home_guild_id=11, message="Split 7 row(s).")


def test_the_json_report_names_every_count_of_every_table() -> None:
    assert _report().to_json() == {
        "status": "split",
        "tables": {"invites": {"destination": "guild:guild_id", "read": 3, "written": 3, "quarantined": 0,
                               "skipped": 0, "orphans": 0},
                   "users": {"destination": "home", "read": 5, "written": 4, "quarantined": 1, "skipped": 0,
                             "orphans": 2}},
        "guilds": [11, 22], "manifest": "out/m.json", "seconds": 1.235, "backup": "b.db", "quarantine": "q.db",
        "home_guild_id": 11, "message": "Split 7 row(s)."}


def test_a_dry_run_report_carries_its_plan_and_no_paths() -> None:
    report = SplitReport("dry-run", {}, [], 0.0, plan={"would_stop": True})
    assert report.to_json() == {"status": "dry-run", "tables": {}, "guilds": [], "manifest": None, "seconds": 0.0,
                                "backup": None, "quarantine": None, "home_guild_id": None, "message": "",
                                "plan": {"would_stop": True}}
    assert "plan" not in _report().to_json()


def test_the_text_report_is_an_aligned_table_then_the_paths_then_the_message() -> None:
    assert _report().render().splitlines() == [
        "table    destination     read  written  quarantined  skipped  orphans",
        "invites  guild:guild_id  3     3        0            0        0",
        "users    home            5     4        1            0        2",
        "backup: b.db",
        "quarantine: q.db",
        "manifest: out/m.json",
        "Split 7 row(s).",
    ]
