"""Attack pass 5: members who leave and come back, and the bot removed then added again, through the double."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sandbox.test_sandbox import _run


def _fields(reply: dict[str, object]) -> dict[str, str]:
    embeds = reply["embeds"]
    assert isinstance(embeds, list) and embeds, reply
    return {f["name"]: f["value"] for f in embeds[0]["fields"]}


@pytest.mark.asyncio
async def test_a_join_right_after_the_bot_is_added_again_is_attributed_to_its_invite(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 10 invite abc",
        "555 bot leave",
        "555 bot join",  # the invite counts are read anew: the script's next join must find them read
        "555 20 join invite:abc",
        "555 10 /invites stats",
    ])
    stats = _fields(objects[-1])
    assert (stats["Joined"], stats["Stayed"]) == ("1", "1"), objects[-1]


@pytest.mark.asyncio
async def test_a_member_who_left_and_came_back_by_the_same_invite_acts_again_and_stayed(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 10 invite abc",
        "555 20 join invite:abc",
        "555 20 say hi",
        "555 20 leave",
        "555 20 say hi again",  # refused: they are not in the server
        "555 20 join invite:abc",
        "555 20 /profile",
        "555 10 /invites stats",
    ])
    by_line = {o["line"]: o for o in objects}
    assert "error" in by_line[6] and "left" in str(by_line[6]["error"]), by_line[6]
    assert "15 XP" in json.dumps(by_line[8], ensure_ascii=False), by_line[8]
    stats = _fields(by_line[9])
    assert stats["Stayed"] == "1", by_line[9]
