"""/profile: read from this server's file only: link, level and XP, chapters, achievements, Steam."""
from __future__ import annotations

import pytest

from app.bot.names import plain
from app.db import GuildDatabaseManager, GuildDb
from app.features.profile import fetch_profile, progress_bar
from app.sandbox.harness import BotHarness
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER


async def _seed(db: GuildDb, user_id: int, *, anilist_name: str = "ShelfTester") -> None:
    async with db.transaction():
        await db.execute("INSERT INTO users (discord_id, username, anilist_username, anilist_id) "
                         "VALUES (?, 'm', ?, 100001)", (user_id, anilist_name))
        await db.execute("INSERT INTO user_xp (discord_id, xp, level) VALUES (?, 350, 2), (?, 900, 3)",
                         (user_id, ADMIN))
        await db.executemany("INSERT INTO user_manga_progress (discord_id, manga_id, chapters_read) "
                             "VALUES (?, ?, ?)", [(user_id, 1, 1100), (user_id, 2, 34)])
        await db.execute("INSERT INTO achievements (discord_id, achievement_key) VALUES (?, 'first_link')",
                         (user_id,))
        await db.execute("INSERT INTO steam_users (discord_id, steam_id, vanity_name) VALUES (?, '7656', 'gabe')",
                         (user_id,))


def test_progress_bar_and_plain_names() -> None:
    assert progress_bar(0, 300) == "▱" * 10 and progress_bar(150, 300) == "▰" * 5 + "▱" * 5
    assert progress_bar(300, 300) == "▰" * 10 and progress_bar(5, 0) == "▱" * 10
    assert plain("[x](http://evil) @everyone **b**") == "xhttp://evil everyone b"
    assert plain("") == "?" and plain("名前\u202e") == "名前" and len(plain("a" * 10_000)) == 64


@pytest.mark.asyncio
async def test_profile_reads_every_part_from_the_file(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        empty = await fetch_profile(db, MEMBER)
        assert (empty.anilist_name, empty.xp.xp, empty.xp_rank, empty.chapters_read) == (None, 0, None, 0)
        assert (empty.achievements_unlocked, empty.steam_name) == (0, None)
        await _seed(db, MEMBER)
        profile = await fetch_profile(db, MEMBER)
        assert (profile.anilist_name, profile.anilist_id) == ("ShelfTester", 100001)
        assert (profile.xp.level, profile.xp.into_level, profile.xp.to_next, profile.xp_rank) == (2, 50, 250, 2)
        assert (profile.chapters_read, profile.achievements_unlocked, profile.steam_name) == (1134, 1, "gabe")


@pytest.mark.asyncio
async def test_profile_embed_through_the_bot_and_not_in_another_server(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _seed(db, MEMBER)
    reply = await harness.command(GUILD_A, MEMBER, "profile")
    embed = reply.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"].startswith("Profile of ")
    assert fields["AniList"] == "[ShelfTester](https://anilist.co/user/ShelfTester)"
    assert fields["Level 2"] == "350 XP · #2 here\n▰▱▱▱▱▱▱▱▱▱ 250 XP to level 3"
    assert (fields["Chapters read"], fields["Achievements"], fields["Steam"]) == ("1,134", "1 of 10", "gabe")

    elsewhere = await harness.command(GUILD_B, MEMBER, "profile")
    fields = {f["name"]: f["value"] for f in elsewhere.embeds[0]["fields"]}
    assert fields["AniList"] == "not linked (/anilist link)" and fields["Chapters read"] == "0"
    assert fields["Level 0"].startswith("0 XP\n") and "Steam" not in fields


@pytest.mark.asyncio
async def test_odd_stored_names_are_shown_inert(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _seed(db, MEMBER, anilist_name="'); DROP TABLE users;-- [x](http://e) @everyone 𝕏")
    reply = await harness.command(GUILD_A, MEMBER, "profile")
    anilist = next(f["value"] for f in reply.embeds[0]["fields"] if f["name"] == "AniList")
    assert anilist == "'; DROP TABLE users;-- xhttp://e everyone 𝕏"


@pytest.mark.asyncio
async def test_a_bot_has_no_profile_or_achievements(harness: BotHarness) -> None:
    bot_id = harness.double.app_id
    for command in ("profile", "achievements"):
        reply = await harness.command(GUILD_A, MEMBER, command, {"member": str(bot_id)})
        assert reply.content.startswith("Bots ") and reply.embeds == []
    async with harness.bot.manager.connect(GUILD_A) as db:
        assert await db.execute_fetchall("SELECT * FROM achievements") == []


@pytest.mark.asyncio
async def test_another_members_profile(harness: BotHarness) -> None:
    other = 900_000_000_000_000_066
    harness.double.ensure_member(GUILD_A, other)
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _seed(db, other)
    reply = await harness.command(GUILD_A, MEMBER, "profile", {"member": str(other)})
    assert {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}["Chapters read"] == "1,134"
    mine = await harness.command(GUILD_A, MEMBER, "profile")
    assert {f["name"]: f["value"] for f in mine.embeds[0]["fields"]}["Chapters read"] == "0"
