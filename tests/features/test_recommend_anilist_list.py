"""`/recommend` for a member who linked AniList: their AniList list counts as theirs.

Seeds: their finished manga here and on AniList, best scored first. Never suggested: anything on their AniList
list, whatever its status. A private or unreachable list leaves the server's own sources as they were.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.features.test_anilist_sandbox import sandbox_json


def _media(media_id: int, title: str, recommendations: list[int], *, adult: bool = False) -> dict[str, object]:
    return {"id": media_id, "title": {"romaji": title, "english": None, "native": None}, "chapters": 10,
            "volumes": 1, "genres": ["Drama"], "status": "FINISHED", "averageScore": 70, "isAdult": adult,
            "recommendations": recommendations}


CATALOGUE = {
    "users": [
        {"id": 7, "name": "Kai", "private": False, "lists": [
            {"mediaId": 1, "status": "COMPLETED", "progress": 10, "progressVolumes": 1, "score": 90},
            {"mediaId": 3, "status": "PLANNING", "progress": 0, "progressVolumes": 0, "score": 0},
            {"mediaId": 6, "status": "DROPPED", "progress": 2, "progressVolumes": 0, "score": 20}]},
        ],
    "media": [_media(1, "Finished There", [2, 3, 5, 6]), _media(2, "Suggested", []), _media(3, "Planned", []),
              _media(4, "Read Here", [1, 2]), _media(5, "Adult", [], adult=True), _media(6, "Dropped", [])],
}


@pytest.mark.asyncio
async def test_the_anilist_list_seeds_the_suggestions_and_nothing_on_it_is_suggested(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE), encoding="utf-8")
    replies = await sandbox_json(tmp_path, capsys, [
        "555 bot join",
        "555 70 /recommend",  # nothing recorded here, nothing linked
        "555 70 /anilist link username:Kai",
        "555 70 /recommend",
        '555 71 /manga update title:"Read Here" chapter:10',  # finished here: AniList recommends 1 and 2 for it
        "555 71 /recommend",  # not linked: this server's sources only
    ], catalogue)
    by_line = {r["line"]: r for r in replies}

    assert str(by_line[2]["content"]).startswith("Nothing to suggest yet")
    suggested = json.dumps(by_line[4]["embeds"], ensure_ascii=False)
    assert "Suggested" in suggested and "AniList readers who finished Finished There recommend it" in suggested
    for on_the_list_or_adult in ("Planned", "Dropped", "Adult", "**Finished There"):
        assert on_the_list_or_adult not in suggested
    unlinked = json.dumps(by_line[6]["embeds"], ensure_ascii=False)
    assert "Finished There" in unlinked and "Suggested" in unlinked  # from what they finished here


def test_the_list_joins_what_the_member_has_here_this_servers_record_first() -> None:
    from app.features.recommend import Reader
    from app.services.anilist_models import ListEntry

    here = Reader(1, {10: "Here", 11: "Both"}, [(11, "Both"), (10, "Here")], set(), set(), 7, {11: 80.0, 10: 60.0})
    joined = here.with_list([ListEntry(11, "COMPLETED", 100.0, "Both on AniList"),
                             ListEntry(12, "COMPLETED", 80.0, "There"), ListEntry(13, "CURRENT", 95.0, "Reading"),
                             ListEntry(14, "COMPLETED", 0.0, "Unscored")])

    assert joined.has == {10: "Here", 11: "Both", 12: "There", 13: "Reading", 14: "Unscored"}
    assert joined.finished == [(11, "Both"), (12, "There"), (10, "Here"), (14, "Unscored")]  # ties: here first


@pytest.mark.asyncio
async def test_a_list_that_cannot_be_read_leaves_the_other_sources() -> None:
    from app.errors import ServiceUnavailableError
    from app.extensions.recommend import AniListLists

    class Down:
        async def fetch_manga_list(self, anilist_id: int) -> None:
            raise ServiceUnavailableError("AniList is down at the moment")

    class Private:
        async def fetch_manga_list(self, anilist_id: int) -> None:
            return None  # the account went private (AniList answers 404)

    assert await AniListLists(Down())(7) == []  # type: ignore[arg-type]
    assert await AniListLists(Private())(7) == []  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_long_list_is_read_chunk_by_chunk_as_anilist_sends_it() -> None:
    from app.doubles.anilist import AniListDouble
    from app.doubles.anilist_catalogue import Catalogue
    from app.services.anilist import LIST_CHUNKS_MAX, AniListClient

    entries = [{"mediaId": n, "status": "COMPLETED" if n % 2 else "PLANNING", "progress": 1, "progressVolumes": 0,
                "score": 50} for n in range(1, 1201)]
    catalogue = {"users": [{"id": 7, "name": "Kai", "private": False, "lists": entries}],
                 "media": [_media(n, f"Manga {n}", []) for n in range(1, 1201)]}
    async with AniListDouble(Catalogue.from_dict(catalogue)) as double:
        client = AniListClient(double.url, rate_per_min=6000)
        found = await client.fetch_manga_list(7)
        assert found is not None and sorted(e.media_id for e in found) == list(range(1, 1201))  # 500 + 500 + 200
        assert client.requests_sent == 3

        catalogue["users"][0]["lists"] = entries * 2
        capped = AniListClient(double.url, rate_per_min=6000)
        double.catalogue = Catalogue.from_dict(catalogue)
        assert len(await capped.fetch_manga_list(7) or []) == 1200
        assert capped.requests_sent == LIST_CHUNKS_MAX  # a bounded cost per /recommend, whatever the list's length
