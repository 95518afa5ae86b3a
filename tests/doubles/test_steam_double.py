"""The Steam double answers as the reference says Steam does (shapes, privacy, keys, faults, catalogue errors)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.doubles.steam import SteamCatalogue, SteamDouble
from app.errors import ConfigurationError

GABE, QUIET = "76561197960287930", "76561198000000002"


async def _get(steam: SteamDouble, path: str, **params: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(steam.url + path, params=params) as response:
        text = await response.text()
        return response.status, json.loads(text) if response.content_type == "application/json" else text


@pytest.mark.asyncio
async def test_routes_answer_in_steams_shapes() -> None:
    async with SteamDouble() as steam:
        k = steam.key
        assert await _get(steam, "/ISteamUser/ResolveVanityURL/v1/", key=k, vanityurl="GabeLoganNewell") == (
            200, {"response": {"steamid": GABE, "success": 1}})
        assert await _get(steam, "/ISteamUser/ResolveVanityURL/v1", key=k, vanityurl="nobody") == (
            200, {"response": {"success": 42, "message": "No match"}})
        status, body = await _get(steam, "/ISteamUser/GetPlayerSummaries/v0002/", key=k, steamids=f"{GABE},{QUIET},1")
        players = body["response"]["players"]
        assert status == 200 and [p["communityvisibilitystate"] for p in players] == [3, 1]
        assert "timecreated" not in players[1] and players[0]["profileurl"].endswith("/id/gabelogannewell/")
        status, body = await _get(steam, "/IPlayerService/GetOwnedGames/v1/", key=k, steamid=GABE, include_appinfo="1")
        assert body["response"]["game_count"] == 4 and body["response"]["games"][0]["name"] == "Portal 2"
        assert await _get(steam, "/IPlayerService/GetOwnedGames/v1/", key=k, steamid=QUIET) == (200, {"response": {}})
        assert await _get(steam, "/IPlayerService/GetRecentlyPlayedGames/v1/", key=k, steamid=GABE) == (
            200, {"response": {"total_count": 0}})


@pytest.mark.asyncio
async def test_a_wrong_key_is_403_on_isteamuser_and_401_on_iplayerservice_and_faults_are_html() -> None:
    async with SteamDouble() as steam:
        status, body = await _get(steam, "/ISteamUser/GetPlayerSummaries/v2/", key="wrong", steamids=GABE)
        assert status == 403 and "<title>Forbidden</title>" in body and "key=" in body
        status, body = await _get(steam, "/IPlayerService/GetOwnedGames/v1/", steamid=GABE)
        assert status == 401 and "<title>Unauthorized</title>" in body
        for fault in (429, 500):
            steam.fail(fault)
            status, body = await _get(steam, "/ISteamUser/ResolveVanityURL/v1/", key=steam.key, vanityurl="x")
            assert status == fault and body.startswith("<html>")
        steam.fail(None)
        assert (await _get(steam, "/ISteamUser/ResolveVanityURL/v1/", key=steam.key, vanityurl="x"))[0] == 200
        assert steam.calls_to("ResolveVanityURL") == 3


def test_a_bad_catalogue_is_one_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(ConfigurationError) as err:
        SteamCatalogue.load(missing)
    assert err.value.user_message.startswith(f"Cannot read the Steam catalogue {missing}")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"players": [{"steamid": "12", "personaname": "x"}]}))
    with pytest.raises(ConfigurationError) as err:
        SteamCatalogue.load(bad)
    assert "not in the catalogue format" in err.value.user_message
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"players": [{"steamid": GABE, "personaname": "Gabe", "vanity": "g", "public": True,
                                             "games": [{"appid": 620, "name": "Portal 2", "playtime_forever": 1}]}]}))
    assert SteamCatalogue.load(good).by_vanity["g"].games[0]["appid"] == 620


def test_a_catalogue_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps({"players": []}), encoding="utf-8-sig")

    assert SteamCatalogue.load(path).players == {}


def _catalogue(tmp_path: Path, players: Any) -> Path:
    path = tmp_path / "players.json"
    path.write_text(json.dumps({"players": players}), encoding="utf-8")
    return path


@pytest.mark.parametrize(("players", "where"), [
    ([{"steamid": GABE, "personaname": "G", "public": "false"}], "players[0].public"),
    ([{"steamid": GABE, "personaname": None}], "players[0].personaname"),
    ([{"steamid": GABE, "personaname": "G", "games": {"appid": 1}}], "players[0].games"),
    ([{"steamid": GABE, "personaname": "G", "games": [{"appid": "x", "name": "A"}]}], "players[0].games[0].appid"),
    ([{"steamid": GABE, "personaname": "G", "games": [{"appid": 1, "playtime_forever": -5}]}],
     "players[0].games[0].playtime_forever"),
    ([{"steamid": GABE, "personaname": "G", "vanity": 12}], "players[0].vanity"),
    ([{"steamid": "12345678901234567", "personaname": "G"}], "players[0].steamid"),  # not a person's SteamID64
    ([{"steamid": GABE, "personaname": "G", "games": [{"appid": 2**64, "name": "A"}]}], "players[0].games[0].appid"),
    ([{"steamid": GABE, "personaname": "G", "games": [{"appid": 1, "playtime_forever": 2**63}]}],
     "players[0].games[0].playtime_forever"),
    ([{"steamid": GABE, "personaname": "G"}, {"steamid": GABE, "personaname": "H"}], "players[1].steamid"),
    ("everyone", "players"),
])
def test_an_entry_off_the_format_is_refused_in_one_sentence_naming_it(tmp_path: Path, players: Any,
                                                                      where: str) -> None:
    path = _catalogue(tmp_path, players)
    with pytest.raises(ConfigurationError) as caught:
        SteamCatalogue.load(path)

    message = caught.value.user_message
    assert message.startswith(f"The Steam catalogue {path} is not in the catalogue format: {where} ")
    assert message.endswith(".") and "Error(" not in message


@pytest.mark.asyncio
async def test_null_games_names_and_playtimes_load_and_are_answered_as_steam_would(tmp_path: Path) -> None:
    catalogue = SteamCatalogue.load(_catalogue(tmp_path, [
        {"steamid": GABE, "personaname": "G", "vanity": None, "public": None, "games": None},
        {"steamid": QUIET, "personaname": "Q", "games": [{"appid": 7, "name": None, "playtime_forever": None}]}]))
    async with SteamDouble(catalogue) as steam:
        _, empty = await _get(steam, "/IPlayerService/GetOwnedGames/v1/", key=steam.key, steamid=GABE,
                              include_appinfo="1")
        _, nameless = await _get(steam, "/IPlayerService/GetOwnedGames/v1/", key=steam.key, steamid=QUIET,
                                 include_appinfo="1")

    # Steam's service methods leave out empty lists and names it does not have
    assert empty == {"response": {"game_count": 0}}
    assert nameless == {"response": {"game_count": 1, "games": [{"appid": 7, "playtime_forever": 0}]}}


@pytest.mark.asyncio
async def test_vanity_names_differing_only_by_case_each_resolve_to_their_own_player(tmp_path: Path) -> None:
    catalogue = SteamCatalogue.load(_catalogue(tmp_path, [
        {"steamid": GABE, "personaname": "G", "vanity": "many"},
        {"steamid": QUIET, "personaname": "Q", "vanity": "MANY"}]))
    async with SteamDouble(catalogue) as steam:
        lower = await _get(steam, "/ISteamUser/ResolveVanityURL/v1/", key=steam.key, vanityurl="many")
        upper = await _get(steam, "/ISteamUser/ResolveVanityURL/v1/", key=steam.key, vanityurl="MANY")
        mixed = await _get(steam, "/ISteamUser/ResolveVanityURL/v1/", key=steam.key, vanityurl="Many")

    assert (lower[1]["response"]["steamid"], upper[1]["response"]["steamid"]) == (GABE, QUIET)
    assert mixed[1]["response"]["steamid"] == GABE  # no exact match: the first listed
