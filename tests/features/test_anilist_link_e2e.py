"""`/anilist link|unlink` end to end: the real bot, the Discord double and the AniList double."""
from __future__ import annotations

import pytest

from app.db import GuildDb
from app.services.anilist import DOWN, SLOW, UNREACHABLE
from tests.e2e import GUILD_A, GUILD_B, MEMBER
from tests.features.anilist_fixtures import World, world

__all__ = ["world"]
OTHER = 900_000_000_000_000_077


async def link_row(w: World, guild_id: int, user_id: int) -> tuple[object, ...] | None:
    async with w.bot.bot.manager.connect(guild_id) as db:
        assert isinstance(db, GuildDb)
        row = await db.execute_fetchone("SELECT anilist_username, anilist_id FROM users WHERE discord_id = ?",
                                        (user_id,))
    return None if row is None else tuple(row)


@pytest.mark.asyncio
async def test_link_stores_the_public_account_in_this_server_only(world: World) -> None:
    reply = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "shelftester"})

    relinked = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ShelfTester"})

    assert reply.ephemeral
    assert reply.content.splitlines() == [
        "Linked to the AniList account **ShelfTester** in this server (other servers keep their own links).",
        "🏆 Achievement unlocked: **First Link** — Link your AniList account in this server."]
    assert "Achievement" not in relinked.content
    assert await link_row(world, GUILD_A, MEMBER) == ("ShelfTester", 100001)
    assert await link_row(world, GUILD_B, MEMBER) is None


@pytest.mark.asyncio
async def test_the_same_member_links_different_accounts_in_two_servers(world: World) -> None:
    await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ShelfTester"})
    await world.bot.command(GUILD_B, MEMBER, "anilist link", {"username": "NewHere"})
    unlinked = await world.bot.command(GUILD_B, MEMBER, "anilist unlink")

    assert unlinked.content.startswith("Unlinked the AniList account **NewHere** in this server")
    assert await link_row(world, GUILD_A, MEMBER) == ("ShelfTester", 100001)
    assert await link_row(world, GUILD_B, MEMBER) == (None, None)


@pytest.mark.asyncio
@pytest.mark.parametrize(("username", "expected"), [
    ("NoSuchPerson", "There is no public AniList user called “NoSuchPerson”"),
    ("QuietReader", "There is no public AniList user called “QuietReader”"),  # private: AniList says 404
    ("Robert');DROP_TABLE_users;--", "There is no public AniList user called “Robert');DROP\\_TABLE\\_users;--”"),
    ("", "An AniList username is 2 to 50 characters with no spaces"),
    ("x" * 10_000, "An AniList username is 2 to 50 characters with no spaces"),
    ("evil\u202eresu", "An AniList username is 2 to 50 characters with no spaces"),
    ("two words", "An AniList username is 2 to 50 characters with no spaces"),
])
async def test_bad_usernames_get_one_sentence_and_nothing_is_stored(world: World, username: str,
                                                                    expected: str) -> None:
    reply = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": username})

    assert reply.ephemeral
    assert reply.content.startswith(expected), reply.content
    assert await link_row(world, GUILD_A, MEMBER) is None


@pytest.mark.asyncio
async def test_odd_unicode_names_link_and_are_quoted_back_intact(world: World) -> None:
    reply = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ゆきリーダー"})

    assert "**ゆきリーダー**" in reply.content
    assert await link_row(world, GUILD_A, MEMBER) == ("ゆきリーダー", 100004)


@pytest.mark.asyncio
async def test_an_account_linked_by_another_member_here_is_refused(world: World) -> None:
    await world.bot.command(GUILD_A, OTHER, "anilist link", {"username": "ShelfTester"})
    reply = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ShelfTester"})
    elsewhere = await world.bot.command(GUILD_B, MEMBER, "anilist link", {"username": "ShelfTester"})

    assert reply.content == "Another member of this server has linked the AniList account “ShelfTester”."
    assert elsewhere.content.startswith("Linked to the AniList account **ShelfTester**")


@pytest.mark.asyncio
async def test_unlink_without_a_link_says_so(world: World) -> None:
    reply = await world.bot.command(GUILD_A, MEMBER, "anilist unlink")

    assert reply.ephemeral and reply.content == "You have no AniList account linked in this server."


@pytest.mark.asyncio
@pytest.mark.parametrize(("fault", "expected"), [
    ("429", "AniList is busy; please try again in 30 seconds."),
    ("403", DOWN), ("500", UNREACHABLE), ("stall", SLOW)])
async def test_anilist_failures_give_the_member_one_sentence(world: World, fault: str, expected: str) -> None:
    world.fail(fault)
    reply = await world.bot.command(GUILD_A, MEMBER, "anilist link", {"username": "ShelfTester"})

    assert reply.ephemeral
    assert reply.content == expected
    assert await link_row(world, GUILD_A, MEMBER) is None
