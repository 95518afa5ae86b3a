"""A member who left a server sends nothing there until they join again: Discord delivers neither their commands
nor their messages (the strict double refuses what Discord would never send)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.sandbox.test_sandbox import _run


@pytest.mark.asyncio
async def test_a_member_who_left_cannot_act_in_the_server_until_they_join_again(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 8 join",
        "555 8 /profile",
        "555 8 leave",
        "555 8 /profile",
        "555 8 say hello",
        "555 9 /profile",  # another member is not concerned
        "555 8 join",
        "555 8 /profile",
    ])
    by_line = {o["line"]: o for o in objects}

    for line in (5, 6):
        assert "error" in by_line[line] and "left" in str(by_line[line]["error"])
    for line in (3, 7, 9):
        assert "error" not in by_line[line] and (by_line[line]["content"] or by_line[line]["embeds"])


@pytest.mark.asyncio
async def test_a_member_cannot_join_twice_without_leaving_in_between(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 8 /profile",  # a first action makes a member of a user never seen: their `join` is still their first
        "555 8 join",
        "555 8 join",  # Discord sends one member-add per arrival: a second would count the member twice
        "555 8 leave",
        "555 8 join",
        "555 7 admin /invites stats member:8",
    ])
    by_line = {o["line"]: o for o in objects}

    assert "error" not in by_line[3] and "error" not in by_line[6]
    assert "error" in by_line[4] and "already" in str(by_line[4]["error"])
