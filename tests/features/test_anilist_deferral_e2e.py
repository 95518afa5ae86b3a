"""Against the strict double (3 s to answer): a command still working after 1 s defers; slow AniList never fails it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.doubles.discord_state import Reply
from tests.e2e import GUILD_A, MEMBER
from tests.features.anilist_fixtures import World, world

__all__ = ["world"]
SLOW_S = 4.0  # past Discord's 3 s for a first answer


def anilist_takes_seconds(w: World) -> None:
    """Every AniList answer takes 4 s (the bot's clock and Discord's), without the test waiting them."""
    original = w.anilist._fault

    async def slow() -> object:
        await w.bot.advance(timedelta(seconds=SLOW_S))
        return await original()

    w.anilist._fault = slow  # type: ignore[method-assign,assignment]


def answered(reply: Reply) -> str:
    assert reply.kind == "message"
    return reply.content


@pytest.mark.asyncio
async def test_link_update_and_stats_survive_a_slow_anilist(world: World) -> None:
    anilist_takes_seconds(world)
    linked = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ShelfTester"})
    updated = await world.bot.command(GUILD_A, MEMBER, "manga update", {"title": "Monster", "chapter": "3"})
    stats = await world.bot.command(GUILD_A, MEMBER, "stats")

    assert answered(linked).startswith("Linked to the AniList account **ShelfTester**")
    assert answered(updated).startswith("Recorded in this server: **Monster**: chapter 3 (reading).")
    assert stats.embeds and stats.embeds[0]["title"].endswith("manga stats")


@pytest.mark.asyncio
async def test_the_servers_file_is_not_leased_while_anilist_answers(world: World) -> None:
    manager = world.bot.bot.manager
    seen: list[int] = []
    original = world.anilist._fault

    async def watching() -> object:
        seen.append(sum(slot.leases for slot in manager._live.get(GUILD_A, ())))
        return await original()

    world.anilist._fault = watching  # type: ignore[method-assign,assignment]
    await world.bot.command(GUILD_A, MEMBER, "manga list")  # the file exists and stays open (cached)
    linked = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ShelfTester"})
    updated = await world.bot.command(GUILD_A, MEMBER, "manga update", {"title": "Monster", "chapter": "3"})
    stats = await world.bot.command(GUILD_A, MEMBER, "stats")
    stored = await world.bot.command(GUILD_A, MEMBER, "stats")  # from the file: AniList is not asked again

    assert linked.content.startswith("Linked") and updated.content.startswith("Recorded")
    assert stats.embeds[0]["fields"] == stored.embeds[0]["fields"]
    assert seen == [0, 0, 0]
