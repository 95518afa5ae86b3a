"""Attack pass 5: /recommend with a linked member's AniList list (adult entries, isolation, gone accounts)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.features.test_anilist_sandbox import sandbox_json


def _media(media_id: int, title: str, recommendations: list[int], *, adult: bool = False) -> dict[str, object]:
    return {"id": media_id, "title": {"romaji": title, "english": None, "native": None}, "chapters": 10,
            "volumes": 1, "genres": ["Drama"], "status": "FINISHED", "averageScore": 70, "isAdult": adult,
            "recommendations": recommendations}


def _entry(media_id: int, status: str, score: int) -> dict[str, object]:
    return {"mediaId": media_id, "status": status, "progress": 10, "progressVolumes": 1, "score": score}


CATALOGUE = {
    "users": [
        {"id": 7, "name": "Kai", "private": False, "lists": [
            _entry(1, "COMPLETED", 100),  # adult, best scored: it must not become a seed shown in a reason
            _entry(2, "COMPLETED", 60)]},
        {"id": 8, "name": "Mio", "private": False, "lists": [_entry(2, "COMPLETED", 90)]},
    ],
    "media": [_media(1, "Adult Seed", [3], adult=True), _media(2, "Plain Seed", [4]),
              _media(3, "From Adult", []), _media(4, "From Plain", [])],
}


@pytest.mark.asyncio
async def test_an_adult_manga_on_the_list_is_never_named_nor_used_as_a_seed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE), encoding="utf-8")
    replies = await sandbox_json(tmp_path, capsys, [
        "555 bot join",
        "555 70 /anilist link username:Kai",
        "555 70 /recommend",
    ], catalogue)
    by_line = {r["line"]: r for r in replies}

    shown = json.dumps(by_line[3], ensure_ascii=False)
    assert "From Plain" in shown and "AniList readers who finished Plain Seed recommend it" in shown, shown
    assert "Adult Seed" not in shown and "From Adult" not in shown, shown


@pytest.mark.asyncio
async def test_the_list_read_is_the_one_linked_in_this_server_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE), encoding="utf-8")
    replies = await sandbox_json(tmp_path, capsys, [
        "555 bot join",
        "556 bot join",
        "556 70 /anilist link username:Mio",  # linked in 556 only
        "555 70 /recommend",  # nothing of theirs in 555
        "556 70 /recommend",
    ], catalogue)
    by_line = {r["line"]: r for r in replies}

    assert str(by_line[4]["content"]).startswith("Nothing to suggest yet"), by_line[4]
    assert "From Plain" in json.dumps(by_line[5], ensure_ascii=False), by_line[5]


@pytest.mark.asyncio
async def test_the_list_survives_null_media_repeats_and_a_gone_or_private_account() -> None:
    from app.doubles.anilist import AniListDouble
    from app.doubles.anilist_catalogue import Catalogue
    from app.services.anilist import AniListClient

    async with AniListDouble(Catalogue.from_dict(CATALOGUE)) as double:
        client = AniListClient(double.url, rate_per_min=6000, timeout=2.0)
        shaped = {"hasNextChunk": False, "lists": [
            None,
            {"name": "Favs", "status": None, "isCustomList": True, "entries": [
                None, {"mediaId": 2, "status": "COMPLETED", "score": 90.0, "media": None},
                {"mediaId": None, "status": "CURRENT", "score": 0, "media": None}]},
            {"name": "Completed", "status": "COMPLETED", "isCustomList": False, "entries": [
                {"mediaId": 2, "status": "COMPLETED", "score": 90.0, "media": None},
                {"mediaId": 1, "status": "COMPLETED", "score": None,
                 "media": {"id": 1, "title": {"romaji": "Adult Seed"}, "isAdult": True}}]},
            {"name": "Empty", "status": "PLANNING", "isCustomList": False, "entries": None}]}
        def shaped_list(user: object, *, chunk: int = 1, per_chunk: int = 500) -> dict[str, object]:
            return shaped

        double.catalogue.list_collection = shaped_list  # type: ignore[method-assign]
        entries = await client.fetch_manga_list(7)
        assert entries is not None
        assert [(e.media_id, e.status, e.score, e.title) for e in entries] == [
            (2, "COMPLETED", 90.0, "AniList #2"), (1, "COMPLETED", 0.0, "Adult Seed")]
        assert [e.adult for e in entries] == [False, True]

        double.catalogue.users[7] = dataclasses.replace(double.catalogue.users[7], private=True)
        assert await client.fetch_manga_list(7) is None
        del double.catalogue.users[8]
        assert await client.fetch_manga_list(8) is None


@pytest.mark.asyncio
async def test_a_list_answer_anilist_got_wrong_leaves_the_other_sources(tmp_path: Path) -> None:
    """AniList answering the list query with no list (HTTP 200, `MediaListCollection: null`, or a shape the client
    cannot read) is no reason to fail /recommend: the list is one source among others."""
    from app.sandbox.harness import running_bot
    from app.sandbox.runner import ScriptRunner

    out: list[str] = []
    async with running_bot(tmp_path / "guild_dbs") as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        await runner.run_line("555 bot join", 1)
        await runner.run_line("555 70 /anilist link username:ShelfTester", 2)
        assert harness.anilist is not None
        def no_list(user: object, *, chunk: int = 1, per_chunk: int = 500) -> None:
            return None

        def unreadable(user: object, *, chunk: int = 1, per_chunk: int = 500) -> dict[str, object]:
            return {"hasNextChunk": False, "lists": [{"entries": [{"mediaId": "not a number"}]}]}

        harness.anilist.catalogue.list_collection = no_list  # type: ignore[method-assign,assignment]
        await runner.run_line("555 70 /recommend", 3)
        harness.anilist.catalogue.list_collection = unreadable  # type: ignore[method-assign]
        await runner.run_line("555 70 /recommend", 4)
    replies = [json.loads(o) for o in out]

    for reply in replies[2:]:
        assert str(reply["content"]).startswith("Nothing to suggest yet"), reply
