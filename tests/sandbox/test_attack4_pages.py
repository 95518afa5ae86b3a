"""Attack pass 4: paginated replies against the sandbox clock and against erasure.

A page menu is prepared in memory when the command runs. Its life must follow the bot's clock (a script's
`clock +1d` ends it, as a day would), and deleting the server's data must end the menus that still hold
that data in memory (a press never shows rows that were deleted).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.sandbox.harness import running_bot
from app.sandbox.runner import ScriptRunner


async def _run(tmp_path: Path, lines: list[str]) -> list[dict[str, object]]:
    out: list[str] = []
    async with running_bot(tmp_path / "guild_dbs") as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        for number, text in enumerate(lines, start=1):
            await runner.run_line(text, number)
    return [json.loads(o) for o in out]


def _leaderboard_of(count: int) -> list[str]:
    return ["555 bot join", *(f"555 {100 + n} say hi" for n in range(count)), "555 8 /leaderboard"]


@pytest.mark.asyncio
async def test_page_buttons_are_gone_a_day_later_on_the_sandbox_clock(tmp_path: Path) -> None:
    lines = [*_leaderboard_of(12), "clock +1d", "555 8 click Next"]
    objects = await _run(tmp_path, lines)

    board = objects[len(lines) - 3]
    assert board["components"] == ["Previous", "Next"], board
    last = objects[-1]
    assert last["line"] == len(lines)
    assert "error" in last, f"the page menu outlived a day on the sandbox clock: {last}"


@pytest.mark.asyncio
async def test_pages_opened_before_the_server_data_was_deleted_cannot_be_turned(tmp_path: Path) -> None:
    lines = [*_leaderboard_of(12),
             "555 9 admin /server-data delete",
             '555 9 admin click "Delete everything"',
             '555 9 admin modal "Server name":"Server 555"',
             "555 8 click Next"]
    objects = await _run(tmp_path, lines)

    deleted = objects[-2]
    assert "error" not in deleted and "deleted" in str(deleted["content"]).lower(), deleted
    assert not (tmp_path / "guild_dbs" / "555.sqlite3").exists()
    last = objects[-1]
    assert last["line"] == len(lines)
    shown = json.dumps(last)
    assert "<@110>" not in shown and "<@111>" not in shown, f"a deleted server's rows were shown: {last}"


@pytest.mark.asyncio
async def test_a_deletion_confirmation_expires_on_the_sandbox_clock(tmp_path: Path) -> None:
    lines = ["555 bot join", "555 8 say hi", "555 8 /my-data delete", "clock +1d", '555 8 click "Erase my data"',
             "555 8 /profile"]
    objects = await _run(tmp_path, lines)

    asked = objects[2]
    assert asked["components"] == ["Erase my data", "Cancel"], asked
    pressed = objects[4]
    assert pressed["line"] == 5 and "error" in pressed, f"confirmed a day after it was asked: {pressed}"
    profile = objects[5]
    assert "15 XP" in json.dumps(profile, ensure_ascii=False), profile


@pytest.mark.asyncio
async def test_the_server_name_form_expires_on_the_sandbox_clock(tmp_path: Path) -> None:
    lines = ["555 bot join", "555 8 say hi", "555 9 admin /server-data delete", '555 9 admin click "Delete everything"',
             "clock +1d", '555 9 admin modal "Server name":"Server 555"', "555 8 /profile"]
    objects = await _run(tmp_path, lines)

    profile = objects[-1]  # the server's data is still there: not deleted by a form submitted a day after it was shown
    assert profile["line"] == 7 and "15 XP" in json.dumps(profile, ensure_ascii=False), profile
