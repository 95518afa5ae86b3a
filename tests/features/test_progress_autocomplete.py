"""`/manga update title:` autocomplete: AniList's search, cached, never past Discord's 3 s."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager
from app.doubles.anilist import AniListDouble
from app.doubles.anilist_catalogue import Catalogue
from app.features.media import MediaLookup
from app.services.anilist import AniListClient
from tests.e2e import GUILD_A, MEMBER
from tests.features.anilist_fixtures import World, world

__all__ = ["world"]


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[GuildDatabaseManager]:
    mgr = GuildDatabaseManager(tmp_path / "guild_dbs")
    try:
        yield mgr
    finally:
        await mgr.close_all()


@pytest.mark.asyncio
async def test_suggestions_are_titles_with_ids_as_values_and_no_adult_media(manager: GuildDatabaseManager) -> None:
    catalogue = Catalogue.from_dict({"media": [
        {"id": 1, "title": {"romaji": "Night Walk"}, "chapters": 12},
        {"id": 2, "title": {"english": "Night " + "x" * 200}},
        {"id": 3, "title": {"romaji": "Night Adult"}, "isAdult": True}]})
    async with AniListDouble(catalogue) as anilist:
        lookup = MediaLookup(AniListClient(anilist.url, rate_per_min=6000, timeout=1.0), manager.connect_bot)
        choices = await lookup.suggest("night")
        again = await lookup.suggest("NIGHT ")
        short = await lookup.suggest("n")

    assert [value for _, value in choices] == ["1", "2"]
    assert choices[0][0] == "Night Walk (12 ch.)"
    assert len(choices[1][0]) == 100 and choices[1][0].endswith("…")
    assert again == choices and short == []
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", ["429", "403", "500", "stall"])
async def test_suggestions_are_empty_when_anilist_fails(manager: GuildDatabaseManager, fault: str) -> None:
    async with AniListDouble() as anilist:
        anilist.fail(fault)
        lookup = MediaLookup(AniListClient(anilist.url, rate_per_min=6000, timeout=0.2), manager.connect_bot)
        choices = await lookup.suggest("one piece")

    assert choices == []


@pytest.mark.asyncio
async def test_suggestions_never_wait_for_a_paced_slot(manager: GuildDatabaseManager) -> None:
    async with AniListDouble() as anilist:
        lookup = MediaLookup(AniListClient(anilist.url, rate_per_min=2, timeout=1.0), manager.connect_bot)
        first = await lookup.suggest("monster")
        second = await lookup.suggest("berserk")  # the next slot is 30 s away: skipped, not queued

    assert [v for _, v in first] == ["30001"] and second == []
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
async def test_the_title_option_is_declared_with_autocomplete(world: World) -> None:
    manga = next(c for c in world.bot.double.commands[0] if c["name"] == "manga")
    update = next(o for o in manga["options"] if o["name"] == "update")
    title = next(o for o in update["options"] if o["name"] == "title")

    assert title.get("autocomplete") is True
    assert (title["min_length"], title["max_length"]) == (1, 200)


@pytest.mark.asyncio
async def test_typing_a_title_offers_anilist_matches(world: World) -> None:
    choices = await world.bot.autocomplete(GUILD_A, MEMBER, "manga update", "title", "full")

    assert [c["value"] for c in choices] == ["30656"]
