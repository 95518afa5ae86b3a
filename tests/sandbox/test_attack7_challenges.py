"""Attack pass 7: reading challenges at their edges, through sandbox script lines."""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from app.sandbox.harness import running_bot
from app.sandbox.runner import ScriptRunner
from tests.sandbox.test_sandbox import _run

FMA = 30656  # 116 chapters in the AniList double's catalogue


def _texts(objects: list[dict[str, object]]) -> str:
    return json.dumps(objects, ensure_ascii=False)


@pytest.mark.asyncio
async def test_finishing_a_challenge_manga_scores_its_bonus_once_however_often_the_status_flips(
        tmp_path: Path) -> None:
    today = datetime.now(UTC).date()  # the sandbox clock starts at the real time
    objects = await _run(tmp_path, [
        "1 bot join",
        f"1 9 admin /challenge-admin create title:T start:{today} end:{today + timedelta(days=7)}",
        f"1 9 admin /challenge-admin add-manga challenge:T title:{FMA}",
        "1 5 /challenge join challenge:T",
        f"1 5 /manga update title:{FMA} chapter:116",  # finished: 116 chapters + 10
        f"1 5 /manga update title:{FMA} chapter:116 status:reading",
        f"1 5 /manga update title:{FMA} chapter:116 status:completed",
        f"1 5 /manga update title:{FMA} chapter:116 status:reading",
        f"1 5 /manga update title:{FMA} chapter:116 status:completed",
        "1 5 /challenge progress",
    ])
    assert "**T**: 126 points" in _texts(objects[-1:]), objects[-1]


@pytest.mark.asyncio
@pytest.mark.parametrize("day", ["2027-W01-1", "2027W011T0", "2027-01-1 "])
async def test_a_date_that_is_not_year_month_day_is_refused(tmp_path: Path, day: str) -> None:
    objects = await _run(tmp_path, [
        "1 bot join",
        f'1 9 admin /challenge-admin create title:T start:"{day}" end:2027-12-31',
    ])
    assert objects[-1].get("content") == "The start date must look like 2026-12-31 (year-month-day).", objects[-1]


@pytest.mark.asyncio
async def test_a_challenge_ends_at_midnight_utc_on_the_clock_line_that_crosses_it(tmp_path: Path) -> None:
    out: list[str] = []
    async with running_bot(tmp_path / "dbs") as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        today = harness.clock.now().date()
        midnight = datetime.combine(today + timedelta(days=1), time(0), UTC)
        lines = [
            "1 bot join",
            f"1 9 admin /challenge-admin create title:T start:{today} end:{today}",
            f"1 9 admin /challenge-admin add-manga challenge:T title:{FMA}",
            "1 5 /challenge join challenge:T",
        ]
        for number, line in enumerate(lines, start=1):
            await runner.run_line(line, number)
        to_last_second = math.floor((midnight - harness.clock.now()).total_seconds()) - 1  # 23:59:59.x
        await runner.run_line(f"clock +{to_last_second}s", 5)
        await runner.run_line(f"1 5 /manga update title:{FMA} chapter:10", 6)  # still inside the end day
        before = len(out)
        await runner.run_line("clock +2s", 7)  # 00:00:01.x: the end day is over
        crossing = [json.loads(o) for o in out[before:]]
        await runner.run_line("1 6 /challenge join challenge:T", 8)
        await runner.run_line("1 5 /challenge list", 9)
    objects = [json.loads(o) for o in out]
    assert any("has ended! Winners: 🥇 <@5> (10 points)" in str(o.get("event")) for o in crossing), crossing
    assert "has ended" in str(objects[-2].get("content")), objects[-2]
    assert "(ended)" in _texts(objects[-1:]), objects[-1]


@pytest.mark.asyncio
async def test_the_id_autocomplete_sends_wins_over_a_title_that_looks_like_another_id(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    objects = await _run(tmp_path, [
        "1 bot join",
        f"1 9 admin /challenge-admin create title:2 start:{today} end:{today + timedelta(days=1)}",  # id 1
        f"1 9 admin /challenge-admin create title:Beta start:{today} end:{today + timedelta(days=5)}",  # id 2
        "1 5 autocomplete /challenge join challenge:\"bet\"",
        "1 5 /challenge join challenge:2",  # the value the suggestion "Beta" sends
    ])
    assert objects[-2]["choices"] == ["Beta"], objects[-2]
    assert str(objects[-1]["content"]).startswith("You joined **Beta**"), objects[-1]
