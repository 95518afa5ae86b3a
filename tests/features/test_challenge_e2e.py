"""Reading challenges end to end: the real bot, the Discord double, the AniList double, the bot's clock."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.config import Settings
from app.ops.ratelimit import Rate
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER

OTHER = 900_000_000_000_000_077
FMA, MONSTER = "30656", "30001"


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot in guilds A and B; AniList and the command budget unpaced (these tests send many commands)."""
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B],
                           settings=Settings(anilist_rate_per_min=6000, rate_member=Rate(100, 10),
                                             rate_guild=Rate(1000, 10))) as h:
        yield h


def days(h: BotHarness, offset: int) -> str:
    return (h.clock.now().date() + timedelta(days=offset)).isoformat()


async def create(h: BotHarness, guild_id: int, title: str, start: int = 0, end: int = 7) -> str:
    reply = await h.command(guild_id, ADMIN, "challenge-admin create",
                            {"title": title, "start": days(h, start), "end": days(h, end)}, admin=True)
    return reply.content


async def rows(h: BotHarness, guild_id: int, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    async with h.bot.manager.connect(guild_id) as db:
        return [tuple(r) for r in await db.execute_fetchall(sql, params)]


def posts(h: BotHarness, guild_id: int) -> list[str]:
    channel_id = h.double.guilds[guild_id].channel_id
    return [r.content for r in h.double.channel_posts if r.channel_id == channel_id]


async def announced(h: BotHarness, guild_id: int, needle: str) -> list[str]:
    """The channel's posts once one contains `needle` (after a restart the server's file is read as it
    becomes available, which may come after the clock moved); gives up after 10 s."""
    async with asyncio.timeout(10):
        while not any(needle in p for p in posts(h, guild_id)):
            await asyncio.sleep(0.02)
    return posts(h, guild_id)


@pytest.mark.asyncio
async def test_a_challenge_from_creation_to_announced_winners_across_a_restart(harness: BotHarness) -> None:
    h = harness
    await h.command(GUILD_A, OTHER, "manga update", {"title": FMA, "chapter": "10"})  # read before joining
    assert (await create(h, GUILD_A, "Winter reads")).startswith("Created **Winter reads**")
    await h.command(GUILD_A, ADMIN, "challenge-admin add-manga", {"challenge": "1", "title": FMA}, admin=True)
    await h.command(GUILD_A, ADMIN, "challenge-admin add-manga", {"challenge": "Winter reads", "title": MONSTER},
                    admin=True)
    for member in (MEMBER, OTHER):
        joined = await h.command(GUILD_A, member, "challenge join", {"challenge": "1"})
        assert joined.content.startswith("You joined **Winter reads**")
    await h.command(GUILD_A, MEMBER, "manga update", {"title": FMA, "chapter": "116"})  # 116 + 10 for finishing
    await h.command(GUILD_A, OTHER, "manga update", {"title": FMA, "chapter": "30"})  # 20: chapter 10 came before
    await h.command(GUILD_A, OTHER, "manga update", {"title": MONSTER, "chapter": "5"})  # 5

    board = await h.command(GUILD_A, OTHER, "challenge leaderboard", {"challenge": "1"})
    assert board.embeds[0]["description"].splitlines() == [f"**#1** <@{MEMBER}> — 126 points",
                                                            f"**#2** <@{OTHER}> — 25 points"]
    mine = await h.command(GUILD_A, OTHER, "challenge progress")
    assert mine.embeds[0]["description"] == "**Winter reads**: 25 points, rank #2"

    await h.restart()
    await h.advance(timedelta(days=8))
    seen = await announced(h, GUILD_A, "Winter reads")

    assert seen == ["🏁 The reading challenge **Winter reads** has ended! Winners: "
                    f"🥇 <@{MEMBER}> (126 points), 🥈 <@{OTHER}> (25 points)."]
    assert await rows(h, GUILD_A, "SELECT is_active FROM challenges") == [(0,)]
    late = await h.command(GUILD_A, ADMIN, "challenge join", {"challenge": "1"})
    assert late.content == "“Winter reads” has ended; see /challenge list for running ones."
    await h.command(GUILD_A, MEMBER, "achievements")
    await h.command(GUILD_A, OTHER, "achievements")
    assert await rows(h, GUILD_A, "SELECT discord_id FROM achievements WHERE achievement_key = 'challenge_winner'"
                      ) == [(MEMBER,)]
    await h.advance(timedelta(days=1))
    assert len(posts(h, GUILD_A)) == 1  # announced once


@pytest.mark.asyncio
async def test_reading_outside_the_window_or_in_an_unjoined_challenge_scores_nothing(harness: BotHarness) -> None:
    h = harness
    await create(h, GUILD_A, "Later", start=2, end=9)
    await h.command(GUILD_A, ADMIN, "challenge-admin add-manga", {"challenge": "1", "title": MONSTER}, admin=True)
    await h.command(GUILD_A, MEMBER, "challenge join", {"challenge": "1"})
    await h.command(GUILD_A, MEMBER, "manga update", {"title": MONSTER, "chapter": "40"})  # before the start
    await h.command(GUILD_A, OTHER, "manga update", {"title": MONSTER, "chapter": "50"})  # never joined
    await h.advance(timedelta(days=3))
    await h.command(GUILD_A, MEMBER, "manga update", {"title": MONSTER, "chapter": "45"})

    assert await rows(h, GUILD_A, "SELECT discord_id, SUM(points_earned) FROM user_progress GROUP BY discord_id"
                      ) == [(MEMBER, 5)]


@pytest.mark.asyncio
async def test_a_tie_goes_to_whoever_got_there_first(harness: BotHarness) -> None:
    h = harness
    await create(h, GUILD_A, "Race")
    await h.command(GUILD_A, ADMIN, "challenge-admin add-manga", {"challenge": "1", "title": MONSTER}, admin=True)
    for member in (MEMBER, OTHER):
        await h.command(GUILD_A, member, "challenge join", {"challenge": "1"})
    await h.command(GUILD_A, OTHER, "manga update", {"title": MONSTER, "chapter": "7"})
    await h.advance(timedelta(hours=1))
    await h.command(GUILD_A, MEMBER, "manga update", {"title": MONSTER, "chapter": "7"})

    board = await h.command(GUILD_A, MEMBER, "challenge leaderboard", {"challenge": "Race"})
    assert board.embeds[0]["description"].splitlines() == [f"**#1** <@{OTHER}> — 7 points",
                                                            f"**#2** <@{MEMBER}> — 7 points"]


@pytest.mark.asyncio
async def test_the_same_challenge_ids_in_two_servers_stay_apart(harness: BotHarness) -> None:
    h = harness
    await create(h, GUILD_A, "Alpha club")
    await create(h, GUILD_B, "Beta club")
    await h.command(GUILD_B, MEMBER, "challenge join", {"challenge": "1"})

    assert await h.autocomplete(GUILD_A, MEMBER, "challenge join", "challenge", "") == [
        {"name": "Alpha club", "value": "1"}]
    assert await h.autocomplete(GUILD_B, MEMBER, "challenge join", "challenge", "club") == [
        {"name": "Beta club", "value": "1"}]
    missing = await h.command(GUILD_A, MEMBER, "challenge join", {"challenge": "Beta club"})
    assert missing.content == "There is no challenge “Beta club” in this server (see /challenge list)."
    assert await rows(h, GUILD_A, "SELECT COUNT(*) FROM user_progress") == [(0,)]
    progress = await h.command(GUILD_B, MEMBER, "challenge progress")
    assert progress.embeds[0]["description"] == "**Beta club**: 0 points, rank #1"


@pytest.mark.asyncio
@pytest.mark.parametrize(("start", "end", "said"), [
    ("2026-13-01", "2027-01-01", "The start date must look like 2026-12-31 (year-month-day)."),
    ("2030-01-10", "2030-01-09", "The end date must be on or after the start date."),
    ("2020-01-01", "2020-01-02", "The end date is already past; pick a day from today on."),
    ("2030-01-01", "2031-06-01", "A challenge lasts at most 366 days."),
])
async def test_bad_dates_are_refused_in_one_sentence(harness: BotHarness, start: str, end: str, said: str) -> None:
    reply = await harness.command(GUILD_A, ADMIN, "challenge-admin create",
                                  {"title": "X", "start": start, "end": end}, admin=True)
    assert reply.content == said
    assert reply.ephemeral


@pytest.mark.asyncio
async def test_admin_commands_refuse_a_member_and_duplicates_are_refused(harness: BotHarness) -> None:
    h = harness
    refused = await h.command(GUILD_A, MEMBER, "challenge-admin create",
                              {"title": "Mine", "start": days(h, 0), "end": days(h, 3)})
    await create(h, GUILD_A, "Mine")
    twice = await create(h, GUILD_A, "mine")
    await h.command(GUILD_A, MEMBER, "challenge join", {"challenge": "1"})
    again = await h.command(GUILD_A, MEMBER, "challenge join", {"challenge": "1"})
    ended = await h.command(GUILD_A, ADMIN, "challenge-admin end", {"challenge": "1"}, admin=True)
    ended_again = await h.command(GUILD_A, ADMIN, "challenge-admin end", {"challenge": "1"}, admin=True)

    assert "Manage Server" in refused.content
    assert twice == "A challenge called “mine” is already running or upcoming here."
    assert again.content == "You are already in “Mine”."
    assert ended.content == "🏁 The reading challenge **Mine** has ended. Nobody scored this time."
    assert ended_again.content == "**Mine** had already ended."
    assert posts(h, GUILD_A) == [ended.content]


@pytest.mark.asyncio
async def test_a_server_that_deleted_its_data_gets_no_file_back_when_a_challenge_was_due(
        harness: BotHarness) -> None:
    h = harness
    await create(h, GUILD_A, "Forgotten")
    await h.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    await h.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    name = h.double.guilds[GUILD_A].name
    done = await h.submit_modal(GUILD_A, ADMIN, {"Server name": name}, admin=True)
    assert done.content.startswith("Deleted:")

    await h.advance(timedelta(days=8))

    assert not h.bot.manager.path_for(GUILD_A).exists()
    assert posts(h, GUILD_A) == []
