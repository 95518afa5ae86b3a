"""The shared paginator through the real bot: 10 lines a page, "page N of M", only the asker may press."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.bot.app import extension_modules
from app.bot.pages import NOT_YOURS, build_pages, page_count
from app.doubles import Reply
from app.sandbox.harness import BotHarness, eventually, running_bot
from tests.e2e import GUILD_A, MEMBER

OTHER = 900_000_000_000_000_077


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    extensions = [*extension_modules(), "tests.bot.pages_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A], extensions=extensions) as h:
        yield h


def _lines(reply: Reply) -> list[str]:
    return str(reply.embeds[0]["description"]).split("\n")


def _footer(reply: Reply) -> str:
    return str(reply.embeds[0]["footer"]["text"])


def _disabled(reply: Reply) -> dict[str, bool]:
    return {b["label"]: bool(b.get("disabled")) for b in reply.buttons()}


def test_page_count_and_text_limits() -> None:
    assert [page_count(n) for n in (0, 1, 10, 11, 25)] == [1, 1, 1, 2, 3]
    pages = build_pages("T", ["x" * 3000, "y" * 3000], per_page=2)
    assert len(pages) == 1 and len(pages[0].description or "") == 4096
    assert build_pages("T", [])[0].description == "Nothing to show yet."
    with pytest.raises(ValueError):
        build_pages("T", ["a"], per_page=0)


@pytest.mark.asyncio
async def test_pages_of_ten_turn_forward_and_back(harness: BotHarness) -> None:
    first = await harness.command(GUILD_A, MEMBER, "pages show", {"count": "25"})
    assert _lines(first) == [f"line {i}" for i in range(1, 11)]
    assert _footer(first) == "page 1 of 3 · your rank: 7"
    assert _disabled(first) == {"Previous": True, "Next": False}

    second = await harness.click(GUILD_A, MEMBER, "Next")
    assert _lines(second) == [f"line {i}" for i in range(11, 21)]
    assert _footer(second).startswith("page 2 of 3")
    third = await harness.click(GUILD_A, MEMBER, "Next")
    assert _lines(third) == [f"line {i}" for i in range(21, 26)]
    assert _disabled(third) == {"Previous": False, "Next": True}
    back = await harness.click(GUILD_A, MEMBER, "Previous")
    assert _footer(back).startswith("page 2 of 3")


@pytest.mark.asyncio
async def test_a_single_page_has_no_buttons(harness: BotHarness) -> None:
    reply = await harness.command(GUILD_A, MEMBER, "pages show", {"count": "10"})
    assert reply.buttons() == [] and _footer(reply) == "page 1 of 1 · your rank: 7"


@pytest.mark.asyncio
async def test_another_member_pressing_is_refused_and_the_page_stays(harness: BotHarness) -> None:
    first = await harness.command(GUILD_A, MEMBER, "pages show", {"count": "25"})
    next_id = next(b["custom_id"] for b in first.buttons() if b["label"] == "Next")

    record = await harness.double.click(first, next_id, guild_id=GUILD_A, user_id=OTHER)
    refusal = await harness.answer(record)

    assert refusal.content == NOT_YOURS and refusal.ephemeral
    assert refusal.message_id != first.message_id
    assert _footer(harness.double.messages[first.message_id]).startswith("page 1 of 3")
    own = await harness.click(GUILD_A, MEMBER, "Next")
    assert _footer(own).startswith("page 2 of 3")


@pytest.mark.asyncio
async def test_buttons_are_removed_when_the_menu_times_out(harness: BotHarness) -> None:
    first = await harness.command(GUILD_A, MEMBER, "pages show", {"count": "25", "timeout_ms": "50"})
    assert first.buttons()

    async def no_buttons() -> bool:
        return harness.double.messages[first.message_id].buttons() == []

    await eventually(no_buttons)
    assert _footer(harness.double.messages[first.message_id]).startswith("page 1 of 3")
