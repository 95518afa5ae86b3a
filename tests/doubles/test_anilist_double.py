"""The AniList double answers as the reference says AniList does (status codes, bodies, headers)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.doubles.anilist import OUTAGE_MESSAGE, AniListDouble
from app.doubles.anilist_catalogue import Catalogue
from app.errors import ConfigurationError
from app.services.anilist_models import MEDIA_QUERY, SEARCH_QUERY, USER_QUERY


async def post(double: AniListDouble, query: str, variables: dict[str, Any]) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as session, \
            session.post(double.url, json={"query": query, "variables": variables}) as response:
        text = await response.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return response.status, response.headers, body


@pytest.mark.asyncio
async def test_unknown_user_is_404_with_null_user_and_private_user_looks_the_same() -> None:
    async with AniListDouble() as double:
        unknown = await post(double, USER_QUERY, {"name": "Nobody"})
        private = await post(double, USER_QUERY, {"name": "QuietReader"})

    for status, _, body in (unknown, private):
        assert status == 404
        assert body == {"errors": [{"message": "Not Found.", "status": 404, "locations": [{"line": 2, "column": 3}]}],
                        "data": {"User": None}}


@pytest.mark.asyncio
async def test_private_users_list_is_404_private_user() -> None:
    query = "query ($userId: Int) { MediaListCollection(userId: $userId, type: MANGA) { lists { name } } }"
    async with AniListDouble() as double:
        status, _, body = await post(double, query, {"userId": 100002})
        ok_status, _, ok_body = await post(double, query, {"userId": 100001})

    assert status == 404 and body["errors"][0]["message"] == "Private User"
    assert body["data"] == {"MediaListCollection": None}
    assert ok_status == 200
    assert {g["status"] for g in ok_body["data"]["MediaListCollection"]["lists"]} == {"CURRENT", "PAUSED",
                                                                                       "COMPLETED"}


@pytest.mark.asyncio
async def test_empty_search_is_200_and_per_page_is_capped_at_50() -> None:
    media = [{"id": i, "title": {"romaji": f"Same {i}"}} for i in range(1, 61)]
    async with AniListDouble(Catalogue.from_dict({"media": media})) as double:
        empty = await post(double, SEARCH_QUERY, {"search": "nothing like it"})
        big = await post(double, SEARCH_QUERY, {"search": "same", "perPage": 500})

    assert empty[0] == 200 and empty[2]["data"]["Page"] == {"pageInfo": {"hasNextPage": False}, "media": []}
    assert big[0] == 200 and len(big[2]["data"]["Page"]["media"]) == 50
    assert big[2]["data"]["Page"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.asyncio
async def test_search_pages_follow_page_and_per_page_from_variables_literals_and_defaults() -> None:
    media = [{"id": i, "title": {"romaji": f"Same {i}"}} for i in range(1, 8)]
    paged = ("query ($search: String, $p: Int, $n: Int = 3) { Page(page: $p, perPage: $n) { pageInfo { hasNextPage } "
             "media(search: $search, type: MANGA) { id } } }")
    literal = ("query ($search: String) { Page(page: 2, perPage: 5) { pageInfo { hasNextPage } "
               "media(search: $search) { id } } }")
    async with AniListDouble(Catalogue.from_dict({"media": media})) as double:
        pages = [(await post(double, paged, {"search": "same", "p": p}))[2]["data"]["Page"] for p in (1, 2, 3, 4)]
        second = (await post(double, literal, {"search": "same"}))[2]["data"]["Page"]
        first = (await post(double, paged, {"search": "same"}))[2]["data"]["Page"]  # no page: the first

    assert [[m["id"] for m in page["media"]] for page in pages] == [[1, 2, 3], [4, 5, 6], [7], []]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False, False]
    assert [m["id"] for m in second["media"]] == [6, 7] and second["pageInfo"]["hasNextPage"] is False
    assert first == pages[0]


@pytest.mark.asyncio
async def test_headers_advertise_90_while_30_are_enforced_then_a_minute_ban() -> None:
    async with AniListDouble(limit=30, advertised=90) as double:
        answers = [await post(double, MEDIA_QUERY, {"id": 30013}) for _ in range(31)]

    assert answers[0][1]["X-RateLimit-Limit"] == "90" and answers[0][1]["X-RateLimit-Remaining"] == "89"
    assert answers[29][0] == 200 and answers[29][1]["X-RateLimit-Remaining"] == "60"
    status, headers, body = answers[30]
    assert status == 429 and headers["Retry-After"] == "60"
    assert body == {"data": None, "errors": [{"message": "Too Many Requests.", "status": 429}]}


@pytest.mark.asyncio
async def test_fault_switches_answer_403_outage_and_html_gateway_errors() -> None:
    async with AniListDouble() as double:
        double.fail("403")
        outage = await post(double, MEDIA_QUERY, {"id": 30013})
        double.fail("500")
        gateway = await post(double, MEDIA_QUERY, {"id": 30013})

    assert outage[0] == 403 and outage[2]["errors"][0]["message"] == OUTAGE_MESSAGE and outage[2]["data"] is None
    assert gateway[0] == 502 and isinstance(gateway[2], str) and "cloudflare" in gateway[2]


def test_catalogue_file_errors_are_one_sentence(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    bad_shape = tmp_path / "shape.json"
    bad_shape.write_text('{"users": [{"name": "x"}]}', encoding="utf-8")

    for path, words in ((tmp_path / "missing.json", "Cannot read"), (bad_json, "not valid JSON"),
                        (bad_shape, "not in the catalogue format")):
        with pytest.raises(ConfigurationError) as caught:
            Catalogue.load(path)
        assert words in caught.value.user_message


def test_the_issue_example_catalogue_loads_and_derives_stats() -> None:
    example = {"users": [{"id": 100001, "name": "ShelfTester", "private": False, "lists": [
        {"mediaId": 30013, "status": "CURRENT", "progress": 1100, "progressVolumes": 105, "score": 90}]}],
        "media": [{"id": 30013, "title": {"romaji": "ONE PIECE", "english": "One Piece", "native": None},
                   "chapters": None, "volumes": None, "genres": ["Action"], "status": "RELEASING",
                   "averageScore": 91, "isAdult": False, "recommendations": [30002]}]}
    catalogue = Catalogue.from_dict(example)
    user = catalogue.user_by_name("ShelfTester")

    assert user is not None
    assert catalogue.stats(user) == {"count": 1, "chaptersRead": 1100, "volumesRead": 105, "meanScore": 90.0,
                                     "genres": [{"genre": "Action", "count": 1}]}


@pytest.mark.asyncio
async def test_recommendations_come_from_the_catalogue_and_a_missing_one_is_null() -> None:
    catalogue = Catalogue.from_dict({"media": [{"id": 1, "title": {"romaji": "A"}, "recommendations": [2, 99]},
                                               {"id": 2, "title": {"romaji": "B"}}]})
    query = ("query ($id: Int) { Media(id: $id, type: MANGA) { id recommendations(sort: RATING_DESC, perPage: 10) "
             "{ nodes { rating mediaRecommendation { id } } } } }")
    async with AniListDouble(catalogue) as double:
        status, _, body = await post(double, query, {"id": 1})

    nodes = body["data"]["Media"]["recommendations"]["nodes"]
    assert status == 200
    assert nodes[0]["mediaRecommendation"]["id"] == 2 and nodes[1]["mediaRecommendation"] is None


def test_a_catalogue_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    # editors on Windows save UTF-8 with a BOM; json.loads refuses one at the start of its text
    path = tmp_path / "bom.json"
    path.write_text('{"users": [], "media": []}', encoding="utf-8-sig")

    assert Catalogue.load(path).users == {}


@pytest.mark.parametrize(("raw", "where"), [
    ({"media": [{"id": 1, "recommendations": ["abc"]}]}, "media[0].recommendations[0]"),
    ({"media": [{"id": 1, "recommendations": 5}]}, "media[0].recommendations"),
    ({"media": [{"id": 1, "title": "Plain"}]}, "media[0].title"),
    ({"media": [{"id": 1, "title": {"romaji": 5}}]}, "media[0].title.romaji"),
    ({"media": [{"id": 1, "chapters": "many"}]}, "media[0].chapters"),
    ({"media": [{"id": 1, "genres": "Action"}]}, "media[0].genres"),
    ({"media": [{"id": 1, "isAdult": "yes"}]}, "media[0].isAdult"),
    ({"media": [{"id": 10**20}]}, "media[0].id"),  # AniList's ids are GraphQL Ints (32-bit)
    ({"media": [{"id": 3}, {"id": 3}]}, "media[1].id"),
    ({"users": [{"id": 1, "name": None}]}, "users[0].name"),
    ({"users": [{"id": True, "name": "x"}]}, "users[0].id"),
    ({"users": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}, "users[1].id"),
    ({"users": [{"id": 1, "name": "Kai"}, {"id": 2, "name": "Kai"}]}, "users[1].name"),
    ({"users": [{"id": 1, "name": "x", "lists": [{"mediaId": 1, "progress": "lots"}]}]}, "users[0].lists[0].progress"),
    ({"users": [{"id": 1, "name": "x", "lists": [{"mediaId": 1, "status": "WATCHING"}]}]}, "users[0].lists[0].status"),
    ({"users": [{"id": 1, "name": "x", "lists": [{"mediaId": 1, "score": 1000}]}]}, "users[0].lists[0].score"),
    ({"users": [{"id": 1, "name": "x", "lists": {"mediaId": 1}}]}, "users[0].lists"),
    ({"users": "nobody"}, "users"),
    ([], "the file"),
])
def test_an_entry_off_the_format_is_refused_in_one_sentence_naming_it(raw: Any, where: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Catalogue.from_dict(raw, source="c.json")

    message = caught.value.user_message
    assert message.startswith(f"The AniList catalogue c.json is not in the catalogue format: {where} ")
    assert message.endswith(".") and ". " not in message and "Error(" not in message


def test_every_optional_field_may_be_null_or_missing() -> None:
    catalogue = Catalogue.from_dict({
        "users": [{"id": 1, "name": "Nulls", "private": None, "lists": [
            {"mediaId": 5, "status": None, "progress": None, "progressVolumes": None, "score": None},
            {"mediaId": 404, "status": "REPEATING", "progress": 3, "score": 7.5},
            {"mediaId": 6, "status": " current ", "progress": 1}]},  # a hand-written status in lower case
            {"id": 2, "name": "NoLists", "lists": None}, {"id": 3, "name": "Bare"}],
        "media": [{"id": 5, "title": None, "chapters": None, "volumes": None, "genres": None, "status": None,
                   "averageScore": None, "isAdult": None, "recommendations": None}, {"id": 6}]})
    nulls = catalogue.user_by_name("Nulls")

    assert nulls is not None and catalogue.stats(nulls)["count"] == 3
    assert nulls.lists[-1]["status"] == "CURRENT"
    assert catalogue.media[6]["title"] == {"romaji": None, "english": None, "native": None}


@pytest.mark.asyncio
async def test_names_differing_only_by_case_each_find_their_own_user() -> None:
    catalogue = Catalogue.from_dict({"users": [{"id": 1, "name": "Alpha"}, {"id": 2, "name": "alpha"}]})
    async with AniListDouble(catalogue) as double:
        upper = await post(double, USER_QUERY, {"name": "Alpha"})
        lower = await post(double, USER_QUERY, {"name": "alpha"})
        shouted = await post(double, USER_QUERY, {"name": "ALPHA"})

    assert (upper[2]["data"]["User"]["id"], lower[2]["data"]["User"]["id"]) == (1, 2)
    assert shouted[0] == 200 and shouted[2]["data"]["User"]["id"] == 1  # no exact match: the first by case
