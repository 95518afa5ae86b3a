"""The Steam client against the Steam double: id forms, one sentence per failure, games cached with a TTL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.bot.clock import Clock
from app.doubles.steam import SteamDouble
from app.services.steam import (
    SteamClient,
    SteamKeyRejectedError,
    SteamNotConfiguredError,
    SteamPrivateError,
    SteamProfileNotFoundError,
    SteamUnavailableError,
    parse_profile,
)

GABE = "76561197960287930"


@pytest.mark.parametrize(("text", "expected"), [
    (GABE, (GABE, None)),
    (f"https://steamcommunity.com/profiles/{GABE}/", (GABE, None)),
    (f"steamcommunity.com/profiles/{GABE}", (GABE, None)),
    ("https://steamcommunity.com/profiles/[U:1:22202]", (GABE, None)),
    ("STEAM_0:0:11101", (GABE, None)),
    ("[U:1:22202]", (GABE, None)),
    ("https://www.steamcommunity.com/id/gabelogannewell/", (None, "gabelogannewell")),
    ("gabelogannewell", (None, "gabelogannewell")),
])
def test_every_profile_form_names_the_same_account(text: str, expected: tuple[str | None, str | None]) -> None:
    assert parse_profile(text) == expected


def test_text_that_names_no_profile_is_refused_before_any_call() -> None:
    with pytest.raises(SteamProfileNotFoundError):
        parse_profile("not a profile!")


@pytest.mark.asyncio
async def test_resolve_summary_and_games() -> None:
    async with SteamDouble() as steam:
        client = SteamClient(steam.key, steam.url)
        assert await client.resolve("GabeLoganNewell") == GABE
        summary = await client.summary(GABE)
        assert (summary.personaname, summary.public) == ("Gabe", True)
        games = await client.owned_games(GABE)
        assert [g.name for g in games][:2] == ["Stardew Valley", "Team Fortress 2"]
        with pytest.raises(SteamProfileNotFoundError) as err:
            await client.resolve("nobodyhere")
        assert err.value.user_message.startswith("No Steam profile has the custom URL “nobodyhere”")
        with pytest.raises(SteamProfileNotFoundError):
            await client.summary("76561190000000000")
        with pytest.raises(SteamPrivateError):
            await client.owned_games("76561198000000002")


@pytest.mark.asyncio
async def test_missing_and_rejected_keys_and_faults_are_one_sentence_each() -> None:
    async with SteamDouble() as steam:
        with pytest.raises(SteamNotConfiguredError):
            await SteamClient(None, steam.url).resolve("gabelogannewell")
        assert steam.calls == []  # no key: Steam is never asked
        with pytest.raises(SteamKeyRejectedError):
            await SteamClient("wrong", steam.url).resolve("gabelogannewell")  # 403
        with pytest.raises(SteamKeyRejectedError):
            await SteamClient("wrong", steam.url).owned_games(GABE)  # 401
        client = SteamClient(steam.key, steam.url)
        steam.fail(429)
        with pytest.raises(SteamUnavailableError) as err:
            await client.owned_games(GABE)
        assert "limiting" in err.value.user_message
        steam.fail(500)
        with pytest.raises(SteamUnavailableError) as err:
            await client.summary(GABE)
        assert err.value.user_message == "Steam did not answer properly; try again later."
    with pytest.raises(SteamUnavailableError):  # nobody listens there any more
        await SteamClient("k", steam.url, timeout=2).summary(GABE)


@pytest.mark.asyncio
async def test_games_are_cached_for_the_ttl_on_the_bots_clock() -> None:
    clock = Clock()
    async with SteamDouble() as steam:
        client = SteamClient(steam.key, steam.url, now=clock.now, games_ttl=3600)
        await client.owned_games(GABE)
        await client.owned_games(GABE)
        assert steam.calls_to("GetOwnedGames") == 1
        clock.advance(timedelta(minutes=61))
        await client.owned_games(GABE)
        assert steam.calls_to("GetOwnedGames") == 2
        steam.fail(500)  # a failure is not cached: the next call asks again
        with pytest.raises(SteamUnavailableError):
            await client.owned_games("76561198000000001")
        steam.fail(None)
        assert [g.name for g in await client.owned_games("76561198000000001")] == ["Hades", "Hollow Knight"]
