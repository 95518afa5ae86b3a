"""`/recommend` end to end: this server's readers, AniList's recommendations (the double), 👍/👎 feedback."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.config import Settings
from app.doubles.discord_state import Reply
from app.features.recommend import NOT_YOURS
from app.ops.ratelimit import Rate
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import GUILD_A, GUILD_B, MEMBER

NEIGHBOUR = 900_000_000_000_000_031
STRANGER = 900_000_000_000_000_032
FMA, MONSTER, DEMON_SLAYER, SOLO, SBR, ONE_PIECE = "30656", "30001", "86635", "105398", "31706", "30013"


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot in guilds A and B; AniList and the command budget unpaced (these tests send many commands)."""
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B],
                           settings=Settings(anilist_rate_per_min=6000, rate_member=Rate(100, 10),
                                            rate_guild=Rate(1000, 10))) as h:
        yield h


async def read(h: BotHarness, guild_id: int, user_id: int, title: str, chapter: str, score: str) -> None:
    reply = await h.command(guild_id, user_id, "manga update", {"title": title, "chapter": chapter, "score": score})
    assert reply.content.startswith("Recorded in this server")


async def rows(h: BotHarness, guild_id: int, sql: str) -> list[tuple[Any, ...]]:
    async with h.bot.manager.connect(guild_id) as db:
        return [tuple(r) for r in await db.execute_fetchall(sql)]


def lines(reply: Reply) -> list[str]:
    return str(reply.embeds[0]["description"]).splitlines()


async def two_servers(h: BotHarness) -> None:
    """In A a neighbour shares Fullmetal Alchemist with the member; in B a stranger shares it too."""
    await read(h, GUILD_A, NEIGHBOUR, FMA, "116", "90")
    await read(h, GUILD_A, NEIGHBOUR, MONSTER, "10", "95")
    await read(h, GUILD_A, NEIGHBOUR, DEMON_SLAYER, "5", "50")  # not rated highly: never suggested
    await read(h, GUILD_A, MEMBER, FMA, "116", "85")
    await read(h, GUILD_A, MEMBER, SOLO, "201", "70")  # finished: AniList recommends One Piece for it
    await read(h, GUILD_B, STRANGER, FMA, "116", "100")
    await read(h, GUILD_B, STRANGER, SBR, "96", "100")
    await read(h, GUILD_B, MEMBER, FMA, "50", "80")


@pytest.mark.asyncio
async def test_suggestions_come_from_this_servers_readers_and_anilist_each_with_a_reason(harness: BotHarness) -> None:
    await two_servers(harness)

    reply = await harness.command(GUILD_A, MEMBER, "recommend")

    assert lines(reply) == [
        "**1. Monster** — 1 reader here who also read Fullmetal Alchemist rated it 80+",
        "**2. One Piece** — AniList readers who finished Solo Leveling recommend it"]
    assert reply.ephemeral
    assert [b["label"] for b in reply.buttons()] == ["👍 1", "👎 1", "👍 2", "👎 2"]
    assert "Steel Ball Run" not in str(reply.embeds)  # server B's reader never reaches server A


@pytest.mark.asyncio
async def test_a_thumbs_down_keeps_that_manga_and_its_fans_out_of_later_suggestions(harness: BotHarness) -> None:
    await two_servers(harness)
    await read(harness, GUILD_A, NEIGHBOUR, ONE_PIECE, "5", "60")
    await harness.command(GUILD_A, MEMBER, "recommend")

    voted = await harness.click(GUILD_A, MEMBER, "👎 1")
    later = await harness.command(GUILD_A, MEMBER, "recommend")

    assert voted.content == "Noted 👎: it will not be suggested again."
    assert lines(later) == ["**1. One Piece** — AniList readers who finished Solo Leveling recommend it"]
    assert await rows(harness, GUILD_A, "SELECT r.manga_id, f.discord_id, f.vote FROM recommendation_feedback f "
                                        "JOIN recommendations r ON r.id = f.recommendation_id") == [
        (int(MONSTER), MEMBER, -1)]


@pytest.mark.asyncio
async def test_a_thumbs_up_weighs_more_what_readers_who_rated_it_highly_also_liked(harness: BotHarness) -> None:
    await two_servers(harness)
    fan = 900_000_000_000_000_033
    await read(harness, GUILD_A, NEIGHBOUR, SBR, "3", "85")  # the neighbour who rated Monster 95
    await read(harness, GUILD_A, fan, FMA, "3", "90")  # another reader sharing the member's manga
    await read(harness, GUILD_A, fan, DEMON_SLAYER, "207", "99")
    first = await harness.command(GUILD_A, MEMBER, "recommend")
    assert [line.split("** —")[0] for line in lines(first)] == [
        "**1. Demon Slayer: Kimetsu no Yaiba", "**2. JoJo no Kimyou na Bouken: Steel Ball Run", "**3. Monster",
        "**4. One Piece"]  # a tie of one reader each, by title

    await harness.click(GUILD_A, MEMBER, "👍 3")
    later = await harness.command(GUILD_A, MEMBER, "recommend")

    assert [line.split("** —")[0] for line in lines(later)] == [
        "**1. JoJo no Kimyou na Bouken: Steel Ball Run", "**2. Demon Slayer: Kimetsu no Yaiba", "**3. One Piece"]


@pytest.mark.asyncio
async def test_only_the_member_who_asked_may_vote_and_the_same_ids_in_two_servers_stay_apart(
        harness: BotHarness) -> None:
    await two_servers(harness)
    in_a = await harness.command(GUILD_A, MEMBER, "recommend")
    in_b = await harness.command(GUILD_B, MEMBER, "recommend")
    assert lines(in_b) == ["**1. JoJo no Kimyou na Bouken: Steel Ball Run** — 1 reader here who also read "
                           "Fullmetal Alchemist rated it 80+"]
    up = next(b["custom_id"] for b in in_a.buttons() if b["label"] == "👍 1")
    assert up == next(b["custom_id"] for b in in_b.buttons() if b["label"] == "👍 1")  # id 1 in both files

    stolen = await harness.answer(await harness.double.click(in_a, up, guild_id=GUILD_A, user_id=NEIGHBOUR))
    await harness.click(GUILD_B, MEMBER, "👍 1")

    assert stolen.content == NOT_YOURS
    assert await rows(harness, GUILD_A, "SELECT * FROM recommendation_feedback") == []
    assert await rows(harness, GUILD_B, "SELECT recommendation_id, discord_id, vote FROM recommendation_feedback"
                      ) == [(1, MEMBER, 1)]


@pytest.mark.asyncio
async def test_nothing_to_suggest_and_a_forged_suggestion_id_each_get_one_sentence(harness: BotHarness) -> None:
    empty = await harness.command(GUILD_A, MEMBER, "recommend")
    await two_servers(harness)
    shown = await harness.command(GUILD_A, MEMBER, "recommend")
    forged = await harness.answer(await harness.double.click(shown, "recommend:999:up", guild_id=GUILD_A,
                                                             user_id=MEMBER))

    assert empty.content.startswith("Nothing to suggest yet")
    assert forged.content == "That suggestion is no longer kept here; run /recommend again."


@pytest.mark.asyncio
async def test_a_manga_the_member_already_has_is_never_suggested(harness: BotHarness) -> None:
    await two_servers(harness)
    await read(harness, GUILD_A, MEMBER, MONSTER, "1", "10")
    await read(harness, GUILD_A, MEMBER, ONE_PIECE, "1", "10")

    reply = await harness.command(GUILD_A, MEMBER, "recommend")

    assert reply.content.startswith("Nothing to suggest yet")
