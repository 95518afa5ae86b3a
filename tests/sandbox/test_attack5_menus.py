"""Attack pass 5: page menus and confirmations that ended (on the bot's clock, or by an erasure) must be gone.

lightbulb 3.2.6's `attach_persistent(timeout=None)` hands back a handle whose `stop_interacting()` does not detach
the menu from the client (`MenuHandle.__init__` drops its `_am`): a menu "ended" that way kept answering presses
from a client that had not yet seen its buttons removed, and stayed in memory with the rows it showed, forever.
"""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from app.sandbox.harness import BotHarness, running_bot
from app.sandbox.runner import ScriptRunner


async def _lines(harness: BotHarness, lines: list[str]) -> list[dict[str, object]]:
    out: list[str] = []
    runner = ScriptRunner(harness, as_json=True, out=out.append)
    for number, text in enumerate(lines, start=1):
        await runner.run_line(text, number)
    return [json.loads(o) for o in out]


def _attached(harness: BotHarness) -> int:
    return len(harness.bot.client._attached_menus)


async def _stale_press(harness: BotHarness, guild_id: int, user_id: int, label: str) -> str:
    """Press `label` on the message as it first was (a client that has not seen the buttons removed yet)."""
    message = harness._latest_with_components(guild_id, user_id)
    assert message is not None
    custom_id = next(b["custom_id"] for b in message.buttons() if b.get("label") == label)
    return str(custom_id)


async def _answered(harness: BotHarness, guild_id: int, user_id: int, custom_id: str, message_id: int) -> str | None:
    message = harness.double.messages[message_id]
    record = await harness.double.click(message, custom_id, guild_id=guild_id, user_id=user_id)
    try:
        reply = await harness.double.wait_reply(record, timeout=1.5)
    except TimeoutError:
        return None
    return json.dumps({"content": reply.content, "embeds": reply.embeds}, ensure_ascii=False)


@pytest.mark.asyncio
async def test_a_page_menu_that_expired_on_the_clock_is_detached_and_answers_no_stale_press(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs") as harness:
        before = _attached(harness)
        await _lines(harness, ["555 bot join", *(f"555 {100 + n} say hi" for n in range(12)), "555 8 /leaderboard"])
        assert _attached(harness) == before + 1
        message = harness._latest_with_components(555, 8)
        assert message is not None
        custom_id = await _stale_press(harness, 555, 8, "Next")
        await harness.advance(timedelta(days=1))
        await asyncio.sleep(0.2)

        assert _attached(harness) == before, "an expired page menu stayed attached to the client"
        assert await _answered(harness, 555, 8, custom_id, message.message_id) is None


@pytest.mark.asyncio
async def test_pages_of_a_deleted_server_are_detached_and_a_stale_press_shows_nothing(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs") as harness:
        before = _attached(harness)
        await _lines(harness, ["555 bot join", *(f"555 {100 + n} say hi" for n in range(12)), "555 8 /leaderboard"])
        message = harness._latest_with_components(555, 8)
        assert message is not None
        custom_id = await _stale_press(harness, 555, 8, "Next")
        objects = await _lines(harness, ["555 9 admin /server-data delete", '555 9 admin click "Delete everything"',
                                         '555 9 admin modal "Server name":"Server 555"'])
        assert "deleted" in str(objects[-1]["content"]).lower(), objects[-1]

        assert _attached(harness) == before, "menus holding a deleted server's rows stayed attached"
        shown = await _answered(harness, 555, 8, custom_id, message.message_id)
        assert shown is None or ("<@110>" not in shown and "<@111>" not in shown), shown


@pytest.mark.asyncio
async def test_an_expired_confirmation_is_detached(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs") as harness:
        before = _attached(harness)
        await _lines(harness, ["555 bot join", "555 8 say hi", "555 8 /my-data delete"])
        assert _attached(harness) == before + 1
        message = harness._latest_with_components(555, 8)
        assert message is not None
        custom_id = await _stale_press(harness, 555, 8, "Erase my data")
        await harness.advance(timedelta(days=1))
        await asyncio.sleep(0.2)

        assert _attached(harness) == before, "an expired confirmation stayed attached to the client"
        assert await _answered(harness, 555, 8, custom_id, message.message_id) is None
        profile = await _lines(harness, ["555 8 /profile"])
        assert "15 XP" in json.dumps(profile, ensure_ascii=False), profile
