"""Hostile but valid input through the sandbox: what a member sees must follow the docs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.ops.ratelimit import Rate
from app.sandbox.harness import running_bot
from app.sandbox.runner import ScriptRunner


async def play(tmp_path: Path, script: list[str]) -> list[dict[str, Any]]:
    out: list[str] = []
    settings = Settings(anilist_rate_per_min=6000, rate_member=Rate(100, 10))
    async with running_bot(tmp_path / "dbs", settings=settings) as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        for number, line in enumerate(script, start=1):
            await runner.run_line(line, number)
    return [json.loads(o) for o in out]


def replies(objects: list[dict[str, Any]], line: int) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("line") == line]


@pytest.mark.asyncio
async def test_a_challenge_ending_on_the_last_day_of_the_calendar_does_not_break_the_others(tmp_path: Path) -> None:
    objects = await play(tmp_path, [
        "111 bot join",
        '111 42 admin /challenge-admin create title:"Far" start:9999-12-01 end:9999-12-31',
        '111 42 admin /challenge-admin create title:"Week" start:2026-12-01 end:2026-12-07',
        "111 42 admin /challenge-admin end challenge:Week",
    ])
    for line in (2, 3, 4):
        text = " ".join(o.get("content", "") for o in replies(objects, line))
        assert "went wrong" not in text, (line, text)
    assert "Created **Far**" in replies(objects, 2)[0]["content"]
    assert "Created **Week**" in replies(objects, 3)[0]["content"]
    assert "has ended" in replies(objects, 4)[0]["content"]


@pytest.mark.asyncio
async def test_manga_status_takes_the_word_the_choices_show(tmp_path: Path) -> None:
    objects = await play(tmp_path, [
        "111 bot join",
        '111 42 /manga update title:"Fullmetal Alchemist" chapter:116 status:completed',
        '111 42 /manga update title:Monster chapter:3 status:Paused',
        "111 42 /manga list status:completed",
        "111 42 /manga list status:PAUSED",
    ])
    assert "chapter 116 (completed)." in replies(objects, 2)[0]["content"]
    assert replies(objects, 3)[0]["content"].endswith("chapter 3 (paused).")
    assert "Fullmetal Alchemist" in replies(objects, 4)[0]["embeds"][0]["description"]
    assert "Monster" not in replies(objects, 4)[0]["embeds"][0]["description"]
    assert "Monster" in replies(objects, 5)[0]["embeds"][0]["description"]


@pytest.mark.asyncio
async def test_invites_stats_right_after_a_join_shows_that_join(tmp_path: Path) -> None:
    objects = await play(tmp_path, [
        "111 bot join",
        "111 2000 /profile",
        "111 2000 invite abc",
        "111 3000 join invite:abc",
        "111 2000 /invites stats",
        "111 2000 /invites leaderboard",
    ])
    stats = replies(objects, 5)[0]["embeds"][0]
    assert stats["description"] == "<@2000> has **1** invite."
    assert {"name": "Joined", "value": "1"} in stats["fields"]
    assert replies(objects, 6)[0]["embeds"][0]["description"].startswith("**#1** <@2000> — 1 (1 stayed")


@pytest.mark.asyncio
async def test_an_ambiguous_manga_remove_names_the_candidates_and_never_points_to_missing_suggestions(
        tmp_path: Path) -> None:
    objects = await play(tmp_path, [
        "111 bot join",
        '111 42 /manga update title:"Fullmetal Alchemist" chapter:3',
        "111 42 /manga update title:Monster chapter:3",
        "111 42 /manga remove title:t",
    ])
    text = replies(objects, 4)[0]["content"]
    assert text.startswith("“t” matches more than one of your manga in this server")
    assert "suggestion" not in text  # /manga remove has no autocomplete
    assert "Fullmetal Alchemist" in text and "Monster" in text


@pytest.mark.asyncio
async def test_a_member_who_lost_manage_server_gets_no_deletion_form(tmp_path: Path) -> None:
    objects = await play(tmp_path, [
        "111 bot join",
        "111 42 admin /server-data delete",
        '111 42 click "Delete everything"',
    ])
    press = replies(objects, 3)[0]
    assert "modal" not in press
    assert press["content"] == "Only members with the Manage Server permission can delete its data."


@pytest.mark.asyncio
async def test_an_invisible_global_display_name_is_refused_not_replaced_by_the_member_id(tmp_path: Path) -> None:
    objects = await play(tmp_path, [
        "111 bot join",
        "111 42 admin /server-data sharing on",
        "111 42 /manga update title:Monster chapter:3",
        '111 42 /global join display-name:"Reader"',
        '111 42 /global join display-name:"\u200b\u200b"',
        "111 42 /global leaderboard",
    ])
    assert replies(objects, 5)[0]["content"] == "A display name needs at least one visible character."
    assert "Reader" in replies(objects, 6)[0]["embeds"][0]["description"]
