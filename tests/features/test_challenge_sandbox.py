"""The sandbox plays a challenge: the demo's challenge step, and `clock +8d` showing the announced winner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import Settings
from app.ops.ratelimit import Rate
from app.sandbox.demo import ALICE, BORIS, MANGA_CLUB, challenge_step
from app.sandbox.harness import running_bot
from app.sandbox.runner import ScriptRunner


@pytest.mark.asyncio
async def test_the_demo_challenge_ends_with_its_winner_announced_after_clock_8d(tmp_path: Path) -> None:
    out: list[str] = []
    settings = Settings(anilist_rate_per_min=6000, rate_member=Rate(100, 10))
    async with running_bot(tmp_path / "dbs", settings=settings) as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        harness.double.ensure_guild(MANGA_CLUB, "Manga Club")
        script = [f"{MANGA_CLUB} bot join", *challenge_step(harness.clock.now().date()).lines,
                  f"{MANGA_CLUB} {ALICE} autocomplete /challenge join challenge:\"spr\""]
        for number, line in enumerate(script, start=1):
            await runner.run_line(line, number)

    objects = [json.loads(o) for o in out]
    assert runner.errors == 0
    assert [o["event"] for o in objects if "event" in o][-1].endswith(
        f"🏁 The reading challenge **Spring sprint** has ended! Winners: 🥇 <@{BORIS}> (126 points).")
    assert objects[-1]["choices"] == ["Spring sprint (ended)"]
