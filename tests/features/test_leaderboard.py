"""Leaderboards: ranks with ties, the caller's own rank off the page, each kind, through the bot."""
from __future__ import annotations

import pytest

from app.bot.pages import NOT_YOURS
from app.db import GuildDatabaseManager, GuildDb
from app.doubles import DoubleError
from app.errors import InvalidInputError
from app.features.leaderboard import Entry, Kind, _ranked, fetch_leaderboard, parse_kind
from app.sandbox.harness import BotHarness
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER

BASE = 800_000_000_000_000_000


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    assert _ranked([(1, 50), (2, 40), (3, 40), (4, 10)]) == [
        Entry(1, 1, 50), Entry(2, 2, 40), Entry(2, 3, 40), Entry(4, 4, 10)]


@pytest.mark.parametrize("text", ["", "XPs", "xp; DROP TABLE user_xp", "ｘｐ", "x" * 10_000])
def test_an_unknown_kind_is_refused_in_one_sentence(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_kind(text)
    assert caught.value.user_message.endswith("choose xp, chapters or achievements.")
    assert len(caught.value.user_message) < 120
    assert parse_kind(" Chapters ") is Kind.CHAPTERS


async def _members_with_xp(db: GuildDb, count: int) -> None:
    await db.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)",
                         [(BASE + i, 1000 - 10 * i) for i in range(count)])


@pytest.mark.asyncio
async def test_own_rank_is_found_beyond_the_listed_top(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        await _members_with_xp(db, 30)
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, 0)", (ADMIN,))
        board = await fetch_leaderboard(db, Kind.XP, BASE + 20, limit=5)
        assert [e.user_id for e in board.entries] == [BASE + i for i in range(5)]
        assert board.own == Entry(21, BASE + 20, 800) and board.ranked == 30
        unranked = await fetch_leaderboard(db, Kind.XP, ADMIN)
        assert unranked.own is None and len(unranked.entries) == 30


@pytest.mark.asyncio
async def test_chapters_and_achievements_boards(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        await db.executemany("INSERT INTO user_manga_progress (discord_id, manga_id, chapters_read) VALUES (?, ?, ?)",
                             [(MEMBER, 1, 30), (MEMBER, 2, 20), (ADMIN, 1, 40)])
        await db.execute("INSERT INTO cached_stats (discord_id, total_chapters) VALUES (?, 900)", (ADMIN,))
        await db.executemany("INSERT INTO achievements (discord_id, achievement_key) VALUES (?, ?)",
                             [(MEMBER, "first_link"), (MEMBER, "steam_linked"), (ADMIN, "first_link")])
        chapters = await fetch_leaderboard(db, Kind.CHAPTERS, MEMBER)
        assert [(e.rank, e.user_id, e.value) for e in chapters.entries] == [(1, ADMIN, 900), (2, MEMBER, 50)]
        achievements = await fetch_leaderboard(db, Kind.ACHIEVEMENTS, ADMIN)
        assert [(e.user_id, e.value) for e in achievements.entries] == [(MEMBER, 2), (ADMIN, 1)]
        assert achievements.own == Entry(2, ADMIN, 1)


@pytest.mark.asyncio
async def test_leaderboard_pages_show_the_callers_rank_and_refuse_other_pressers(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _members_with_xp(db, 25)
        await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, 5)", (MEMBER,))

    first = await harness.command(GUILD_A, MEMBER, "leaderboard", {"kind": "xp"})
    embed = first.embeds[0]
    assert embed["title"] == "XP leaderboard"
    assert embed["description"].split("\n")[0] == f"**#1** <@{BASE}> — 1,000 XP (level 4)"
    assert embed["footer"]["text"] == "page 1 of 3 · You: #26 of 26 with 5 XP (level 0)"
    next_id = next(b["custom_id"] for b in first.buttons() if b["label"] == "Next")
    refusal = await harness.answer(await harness.double.click(first, next_id, guild_id=GUILD_A, user_id=ADMIN))
    assert refusal.content == NOT_YOURS
    await harness.click(GUILD_A, MEMBER, "Next")
    last = await harness.click(GUILD_A, MEMBER, "Next")
    assert last.embeds[0]["description"].split("\n")[-1] == f"**#26** <@{MEMBER}> — 5 XP (level 0)"
    assert last.embeds[0]["footer"]["text"].startswith("page 3 of 3 · You: #26")


@pytest.mark.asyncio
async def test_another_servers_leaderboard_never_lists_this_ones_members(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _members_with_xp(db, 3)
    elsewhere = await harness.command(GUILD_B, MEMBER, "leaderboard", {"kind": "xp"})
    assert elsewhere.embeds[0]["description"] == "Nothing to show yet."
    assert elsewhere.embeds[0]["footer"]["text"] == "page 1 of 1 · You are not on this leaderboard yet (0 ranked)"
    default = await harness.command(GUILD_A, MEMBER, "leaderboard")
    assert default.embeds[0]["title"] == "XP leaderboard" and str(BASE) in default.embeds[0]["description"]


@pytest.mark.asyncio
async def test_a_kind_discord_would_refuse_is_refused_by_the_bot_too(harness: BotHarness) -> None:
    try:
        reply = await harness.command(GUILD_A, MEMBER, "leaderboard", {"kind": "xp'; DROP TABLE user_xp; --"})
    except DoubleError:  # a strict double validates choices first, as Discord does
        return
    # answered at once: the error's own ephemeral flag holds (a public deferral would have made it public)
    assert reply.content.endswith("choose xp, chapters or achievements.") and reply.embeds == []
