"""Media lookups: memory cache, then the bot-wide file's manga_cache, then AniList (the double)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager
from app.doubles.anilist import AniListDouble
from app.errors import NotFoundError
from app.features.media import MediaLookup
from app.services.anilist import AniListClient


@pytest_asyncio.fixture
async def anilist() -> AsyncIterator[AniListDouble]:
    async with AniListDouble() as double:
        yield double


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[GuildDatabaseManager]:
    mgr = GuildDatabaseManager(tmp_path / "guild_dbs")
    try:
        yield mgr
    finally:
        await mgr.close_all()


def lookup(anilist: AniListDouble, manager: GuildDatabaseManager) -> MediaLookup:
    return MediaLookup(AniListClient(anilist.url, rate_per_min=6000, timeout=2.0), manager.connect_bot)


@pytest.mark.asyncio
async def test_a_second_fetch_is_served_from_memory(anilist: AniListDouble, manager: GuildDatabaseManager) -> None:
    media = lookup(anilist, manager)
    first = await media.fetch(30656)
    second = await media.fetch(30656)

    assert first == second and first is not None and first.chapters == 116
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
async def test_a_new_process_reads_the_bot_wide_cache_without_asking_anilist(
        anilist: AniListDouble, manager: GuildDatabaseManager) -> None:
    await lookup(anilist, manager).search("fullmetal")
    restarted = lookup(anilist, manager)
    media = await restarted.fetch(30656)
    async with manager.connect_bot() as bot_db:
        row = await bot_db.execute_fetchone("SELECT title_english, chapters FROM manga_cache WHERE manga_id = 30656")

    assert media is not None and (media.title, media.chapters) == ("Fullmetal Alchemist", 116)
    assert len(anilist.requests) == 1  # the search only
    assert row is not None and tuple(row) == ("Fullmetal Alchemist", 116)


@pytest.mark.asyncio
async def test_searches_are_cached_by_normalised_text(anilist: AniListDouble, manager: GuildDatabaseManager) -> None:
    media = lookup(anilist, manager)
    first = await media.search("One  Piece")
    second = await media.search("one piece")

    assert [m.id for m in first] == [m.id for m in second] == [30013]
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
async def test_resolve_takes_an_id_or_prefers_an_exact_title(anilist: AniListDouble,
                                                             manager: GuildDatabaseManager) -> None:
    media = lookup(anilist, manager)
    by_id = await media.resolve("30002")
    by_title = await media.resolve("monster")
    with pytest.raises(NotFoundError) as caught:
        await media.resolve("`@everyone` no such manga")

    assert (by_id.id, by_title.id) == (30002, 30001)
    assert caught.value.user_message == ("AniList has no manga called “\\`@\u200beveryone\\` no such manga”; "
                                         "pick one of the suggestions while typing the title.")


@pytest.mark.asyncio
async def test_a_cached_chapter_count_of_0_reads_as_unknown(anilist: AniListDouble,
                                                            manager: GuildDatabaseManager) -> None:
    async with manager.connect_bot() as bot_db, bot_db.transaction():  # as a legacy bot's cache may hold it
        await bot_db.execute("INSERT INTO manga_cache (manga_id, title_romaji, chapters, volumes, genres, fetched_at) "
                             "VALUES (424242, 'Zero', 0, 0, '[]', CURRENT_TIMESTAMP)")
    media = await lookup(anilist, manager).fetch(424242)

    assert media is not None and (media.title, media.chapters, media.volumes) == ("Zero", None, None)
    assert anilist.requests == []
