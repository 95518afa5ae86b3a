"""`/manga update|list|remove` end to end: the real bot, the Discord double and the AniList double."""
from __future__ import annotations

import pytest

from app.bot.pages import NOT_YOURS
from app.db import GuildDb
from app.features.progress import record_chapter
from app.services.anilist import DOWN, SLOW, UNREACHABLE
from app.services.anilist_models import Media
from tests.e2e import GUILD_A, GUILD_B, MEMBER
from tests.features.anilist_fixtures import World, world

__all__ = ["world"]
OTHER = 900_000_000_000_000_077


async def progress_rows(w: World, guild_id: int, user_id: int) -> list[tuple[object, ...]]:
    async with w.bot.bot.manager.connect(guild_id) as db:
        rows = await db.execute_fetchall(
            "SELECT manga_id, chapters_read, status, score FROM user_manga_progress WHERE discord_id = ? "
            "ORDER BY manga_id", (user_id,))
    return [tuple(r) for r in rows]


async def update(w: World, guild_id: int, user_id: int, **options: str) -> str:
    reply = await w.bot.command(guild_id, user_id, "manga update", options)
    assert reply.ephemeral
    return reply.content


@pytest.mark.asyncio
async def test_update_by_title_then_by_id_records_progress_without_an_anilist_link(world: World) -> None:
    first = await update(world, GUILD_A, MEMBER, title="fullmetal alchemist", chapter="50", score="88")
    last = await update(world, GUILD_A, MEMBER, title="30656", chapter="116")
    again = await update(world, GUILD_A, MEMBER, title="30656", chapter="116")

    assert first == "Recorded in this server: **Fullmetal Alchemist**: chapter 50 (reading, scored 88)."
    assert last.splitlines() == [
        "Recorded in this server: **Fullmetal Alchemist**: chapter 116 (completed, scored 88).",
        "🏆 Achievement unlocked: **Bookworm** — Read 100 chapters.",
        "🏆 Achievement unlocked: **First Finish** — Complete a manga."]
    assert again == last.splitlines()[0]  # announced once, never twice
    assert await progress_rows(world, GUILD_A, MEMBER) == [(30656, 116, "COMPLETED", 88.0)]


@pytest.mark.asyncio
async def test_a_chapter_beyond_the_known_count_is_refused_naming_the_count(world: World) -> None:
    reply = await update(world, GUILD_A, MEMBER, title="Fullmetal Alchemist", chapter="117")

    assert reply == "Fullmetal Alchemist has 116 chapters, so chapter 117 cannot be recorded."
    assert await progress_rows(world, GUILD_A, MEMBER) == []


@pytest.mark.asyncio
async def test_a_releasing_manga_with_no_known_count_accepts_any_chapter(world: World) -> None:
    reply = await update(world, GUILD_A, MEMBER, title="One Piece", chapter="99999", status="PAUSED")

    assert reply.splitlines()[0] == "Recorded in this server: **One Piece**: chapter 99,999 (paused)."


@pytest.mark.asyncio
@pytest.mark.parametrize(("options", "expected"), [
    ({"title": "", "chapter": "1"}, "Give a manga title (pick one of the suggestions while typing) or an AniList id."),
    ({"title": "  ", "chapter": "1"}, "Give a manga title"),
    ({"title": "x" * 10_000, "chapter": "1"}, "AniList has no manga called “xxxx"),
    ({"title": "'; DROP TABLE user_manga_progress; --", "chapter": "1"},
     "AniList has no manga called “'; DROP TABLE user\\_manga\\_progress; --”"),
    ({"title": "\u202e\u0000ワンピース\u200f", "chapter": "1"}, "AniList has no manga called “ワンピース”"),
    ({"title": "One Piece", "chapter": "-1"}, "The chapter must be between 0 and 100,000."),
    ({"title": "One Piece", "chapter": "100001"}, "The chapter must be between 0 and 100,000."),
    ({"title": "One Piece", "chapter": "1", "score": "101"}, "The score must be between 0 and 100."),
    ({"title": "One Piece", "chapter": "1", "status": "READING; --"}, "The status must be one of: reading,"),
])
async def test_bad_input_gets_one_sentence_and_nothing_is_stored(world: World, options: dict[str, str],
                                                                 expected: str) -> None:
    reply = await update(world, GUILD_A, MEMBER, **options)

    assert reply.startswith(expected), reply
    assert len(reply) < 400
    assert await progress_rows(world, GUILD_A, MEMBER) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("fault", "expected"), [
    ("429", "AniList is busy; please try again in 30 seconds."),
    ("403", DOWN), ("500", UNREACHABLE), ("stall", SLOW)])
async def test_anilist_failures_give_one_sentence_and_cached_manga_keep_working(world: World, fault: str,
                                                                                expected: str) -> None:
    await update(world, GUILD_A, MEMBER, title="30656", chapter="10")  # now cached
    world.fail(fault)
    refused = await update(world, GUILD_A, MEMBER, title="Monster", chapter="3")
    cached = await update(world, GUILD_A, MEMBER, title="30656", chapter="11")

    assert refused == expected
    assert cached == "Recorded in this server: **Fullmetal Alchemist**: chapter 11 (reading)."
    assert await progress_rows(world, GUILD_A, MEMBER) == [(30656, 11, "CURRENT", None)]


@pytest.mark.asyncio
async def test_progress_in_one_server_never_appears_in_another(world: World) -> None:
    await update(world, GUILD_A, MEMBER, title="Monster", chapter="40")
    here = await world.bot.command(GUILD_A, MEMBER, "manga list")
    there = await world.bot.command(GUILD_B, MEMBER, "manga list")
    removed_there = await world.bot.command(GUILD_B, MEMBER, "manga remove", {"title": "Monster"})

    assert "**Monster**: chapter 40 (reading)" in world.text(here) and here.ephemeral
    assert "no manga recorded in this server yet" in world.text(there)
    assert removed_there.content == "“Monster” is not among your manga in this server (see /manga list)."
    assert await progress_rows(world, GUILD_A, MEMBER) == [(30001, 40, "CURRENT", None)]
    assert await progress_rows(world, GUILD_B, MEMBER) == []


@pytest.mark.asyncio
async def test_list_shows_another_members_manga_and_filters_by_status(world: World) -> None:
    await update(world, GUILD_A, OTHER, title="Monster", chapter="162")
    await update(world, GUILD_A, OTHER, title="Berserk", chapter="300")
    completed = await world.bot.command(GUILD_A, MEMBER, "manga list", {"member": str(OTHER), "status": "COMPLETED"})

    text = world.text(completed)
    assert "**Monster**: chapter 162 (completed)" in text
    assert "Berserk" not in text
    assert "(1)" in completed.embeds[0]["title"]


@pytest.mark.asyncio
async def test_list_pages_ten_at_a_time_and_only_the_asker_turns_them(world: World) -> None:
    async with world.bot.bot.manager.connect(GUILD_A) as db:
        assert isinstance(db, GuildDb)
        for n in range(12):
            await record_chapter(db, Media(id=500 + n, romaji=f"Series {n:02d}"), MEMBER, "member", n + 1)
    first = await world.bot.command(GUILD_A, MEMBER, "manga list")
    first_page = (first.embeds[0]["description"], first.embeds[0]["footer"]["text"])  # the message is edited later
    next_button = next(b for b in first.buttons() if b.get("label") == "Next")
    press = await world.bot.double.click(first, next_button["custom_id"], guild_id=GUILD_A, user_id=OTHER)
    refused = await world.bot.answer(press)
    page_two = await world.bot.click(GUILD_A, MEMBER, "Next")

    assert refused.ephemeral and refused.content == NOT_YOURS
    assert first_page[0].count("\n") == 9 and "**Series 00**" in first_page[0]
    assert first_page[1] == "page 1 of 2"
    assert page_two.embeds[0]["footer"]["text"] == "page 2 of 2"
    assert page_two.embeds[0]["description"].count("\n") == 1


@pytest.mark.asyncio
async def test_remove_by_part_of_the_title_and_ambiguity_is_refused(world: World) -> None:
    await update(world, GUILD_A, MEMBER, title="Monster", chapter="1")
    await update(world, GUILD_A, MEMBER, title="Berserk", chapter="1")
    await update(world, GUILD_A, MEMBER, title="Steel Ball Run", chapter="1")
    ambiguous = await world.bot.command(GUILD_A, MEMBER, "manga remove", {"title": "er"})
    removed = await world.bot.command(GUILD_A, MEMBER, "manga remove", {"title": "berS"})

    assert ambiguous.content.startswith("“er” matches more than one of your manga in this server")
    assert removed.content == "Removed **Berserk** from your manga in this server."
    assert [row[0] for row in await progress_rows(world, GUILD_A, MEMBER)] == [30001, 31706]



@pytest.mark.asyncio
@pytest.mark.parametrize(("title", "expected"), [
    ("", "Give the title of the manga to remove, as /manga list shows it."),
    ("   ", "Give the title of the manga to remove, as /manga list shows it."),
    ("x" * 10_000, "“" + "x" * 79 + "…” is not among your manga in this server (see /manga list)."),
    ("%' OR 1=1; DELETE FROM user_manga_progress; --",
     "“%' OR 1=1; DELETE FROM user\\_manga\\_progress; --” is not among your manga in this server (see /manga list)."),
    ("\u202e\u200fモンスター", "“モンスター” is not among your manga in this server (see /manga list)."),
])
async def test_remove_with_bad_titles_removes_nothing(world: World, title: str, expected: str) -> None:
    await update(world, GUILD_A, MEMBER, title="Monster", chapter="1")
    reply = await world.bot.command(GUILD_A, MEMBER, "manga remove", {"title": title})

    assert reply.ephemeral and reply.content == expected
    assert await progress_rows(world, GUILD_A, MEMBER) == [(30001, 1, "CURRENT", None)]


@pytest.mark.asyncio
async def test_list_with_an_unknown_status_is_refused(world: World) -> None:
    reply = await world.bot.command(GUILD_A, MEMBER, "manga list", {"status": "'; DROP TABLE users; --"})

    assert reply.ephemeral and reply.content.startswith("The status must be one of: reading, completed")
