"""`/stats` end to end: cached in this server's file, refreshed when older than STATS_TTL_HOURS or on request."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from app.features.stats import RefreshCooldown
from app.services.anilist import DOWN, SLOW, UNREACHABLE
from tests.e2e import GUILD_A, GUILD_B, MEMBER
from tests.features.anilist_fixtures import World, world

__all__ = ["world"]
OTHER = 900_000_000_000_000_077


def fields(reply: object) -> dict[str, str]:
    embeds = getattr(reply, "embeds")  # noqa: B009
    return {f["name"]: f["value"] for f in embeds[0]["fields"]}


async def link(w: World, guild_id: int, user_id: int, name: str = "ShelfTester") -> None:
    reply = await w.bot.command(guild_id, user_id, "anilist link", {"username": name})
    assert reply.content.startswith("Linked"), reply.content


async def age_stats(w: World, guild_id: int, user_id: int, hours: int) -> None:
    async with w.bot.bot.manager.connect(guild_id) as db:
        await db.execute("UPDATE cached_stats SET cached_at = datetime('now', ?) WHERE discord_id = ?",
                         (f"-{hours} hours", user_id))


async def stored_rows(w: World, guild_id: int) -> list[tuple[object, ...]]:
    async with w.bot.bot.manager.connect(guild_id) as db:
        rows = await db.execute_fetchall("SELECT discord_id, total_manga, total_chapters FROM cached_stats")
    return [tuple(r) for r in rows]


@pytest.mark.asyncio
async def test_stats_come_from_anilist_once_then_from_this_servers_file(world: World) -> None:
    await link(world, GUILD_A, MEMBER)
    before = len(world.anilist.requests)
    first = await world.bot.command(GUILD_A, MEMBER, "stats")
    second = await world.bot.command(GUILD_A, MEMBER, "stats")

    assert fields(first) == fields(second) == {
        "Manga": "3", "Chapters read": "1,572", "Volumes read": "157", "Mean score": "90",
        "Top genres": "Action, Drama, Fantasy, Adventure, Comedy"}
    assert "ShelfTester" in first.embeds[0]["description"]
    assert first.ephemeral and second.ephemeral
    assert len(world.anilist.requests) == before + 1
    assert await stored_rows(world, GUILD_A) == [(MEMBER, 3, 1572)]
    assert await stored_rows(world, GUILD_B) == []


@pytest.mark.asyncio
async def test_stats_older_than_the_ttl_are_refreshed(world: World) -> None:
    await link(world, GUILD_A, MEMBER)
    await world.bot.command(GUILD_A, MEMBER, "stats")
    await age_stats(world, GUILD_A, MEMBER, 11)
    await world.bot.command(GUILD_A, MEMBER, "stats")
    asked = len(world.anilist.requests)
    await age_stats(world, GUILD_A, MEMBER, 13)
    await world.bot.command(GUILD_A, MEMBER, "stats")

    assert len(world.anilist.requests) == asked + 1


@pytest.mark.asyncio
async def test_refresh_asks_anilist_and_then_cools_down(world: World) -> None:
    await link(world, GUILD_A, MEMBER)
    await world.bot.command(GUILD_A, MEMBER, "stats")
    asked = len(world.anilist.requests)
    refreshed = await world.bot.command(GUILD_A, MEMBER, "stats", {"refresh": "true"})
    again = await world.bot.command(GUILD_A, MEMBER, "stats", {"refresh": "true"})
    elsewhere = await world.bot.command(GUILD_B, MEMBER, "stats", {"refresh": "true"})

    assert fields(refreshed)["Manga"] == "3"
    assert len(world.anilist.requests) == asked + 1
    assert again.ephemeral and again.content == ("Stats can be refreshed once every 10 minutes; try again in "
                                                 "10 minutes.")
    assert elsewhere.content == "You have not linked an AniList account in this server; link one with /anilist link."


def test_the_refresh_cooldown_is_per_guild_and_member_and_ends() -> None:
    now = [0.0]
    cooldown = RefreshCooldown(600, clock=lambda: now[0])
    cooldown.claim(1, 7)
    cooldown.claim(2, 7)
    cooldown.claim(1, 8)
    now[0] = 599.0
    with pytest.raises(Exception, match="try again in 1 minute"):
        cooldown.claim(1, 7)
    now[0] = 600.0
    cooldown.claim(1, 7)


@pytest.mark.asyncio
@pytest.mark.parametrize(("fault", "expected"), [
    ("429", "AniList is busy; please try again in 30 seconds."),
    ("403", DOWN), ("500", UNREACHABLE), ("stall", SLOW)])
async def test_anilist_failures_show_stored_stats_with_a_note_or_one_sentence(world: World, fault: str,
                                                                              expected: str) -> None:
    await link(world, GUILD_A, MEMBER)
    await link(world, GUILD_A, OTHER, "NewHere")
    await world.bot.command(GUILD_A, MEMBER, "stats")
    await age_stats(world, GUILD_A, MEMBER, 24)
    world.fail(fault)
    stale = await world.bot.command(GUILD_A, MEMBER, "stats")
    nothing = await world.bot.command(GUILD_A, OTHER, "stats")

    assert fields(stale)["Manga"] == "3"
    assert fields(stale)["Note"].startswith(expected + " These are from ")
    assert nothing.content == expected and nothing.embeds == []


@pytest.mark.asyncio
async def test_an_account_made_private_after_linking_is_explained(world: World) -> None:
    await link(world, GUILD_A, MEMBER)
    user = world.anilist.catalogue.users[100001]
    world.anilist.catalogue.users[100001] = dataclasses.replace(user, private=True)
    reply = await world.bot.command(GUILD_A, MEMBER, "stats")

    assert reply.content.startswith("The AniList account “ShelfTester” is private or gone now")


@pytest.mark.asyncio
async def test_unlinking_forgets_the_stats_here_only(world: World) -> None:
    await link(world, GUILD_A, MEMBER)
    await link(world, GUILD_B, MEMBER)
    await world.bot.command(GUILD_A, MEMBER, "stats")
    await world.bot.command(GUILD_B, MEMBER, "stats")
    await world.bot.command(GUILD_A, MEMBER, "anilist unlink")
    after = await world.bot.command(GUILD_A, MEMBER, "stats")

    assert after.ephemeral and after.content.startswith("You have not linked an AniList account")
    assert await stored_rows(world, GUILD_A) == []
    assert await stored_rows(world, GUILD_B) == [(MEMBER, 3, 1572)]


@pytest.mark.asyncio
async def test_another_members_stats_and_an_unlinked_member(world: World) -> None:
    await link(world, GUILD_A, OTHER)
    theirs = await world.bot.command(GUILD_A, MEMBER, "stats", {"member": str(OTHER)})
    nobody = await world.bot.command(GUILD_A, OTHER, "stats", {"member": str(MEMBER)})

    assert fields(theirs)["Manga"] == "3"
    assert nobody.content.endswith("has not linked an AniList account in this server; link one with /anilist link.")


@pytest.mark.asyncio
async def test_the_bots_clock_ages_stats_and_ends_the_refresh_cooldown(world: World) -> None:
    await link(world, GUILD_A, MEMBER)
    await world.bot.command(GUILD_A, MEMBER, "stats", {"refresh": "true"})
    start = len(world.anilist.requests)
    await world.bot.advance(timedelta(hours=11))
    await world.bot.command(GUILD_A, MEMBER, "stats")
    after_11h = len(world.anilist.requests)
    await world.bot.advance(timedelta(hours=2))
    await world.bot.command(GUILD_A, MEMBER, "stats")
    after_13h = len(world.anilist.requests)
    refreshed = await world.bot.command(GUILD_A, MEMBER, "stats", {"refresh": "true"})

    assert (after_11h, after_13h) == (start, start + 1)
    assert fields(refreshed)["Manga"] == "3" and len(world.anilist.requests) == start + 2
