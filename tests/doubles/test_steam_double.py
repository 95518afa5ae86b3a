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
