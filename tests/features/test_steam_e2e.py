"""/steam end to end: the real bot, the strict Discord double and the Steam double."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.config import Settings
from app.doubles.steam import SteamDouble
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER

GABE, MIKA, QUIET = "76561197960287930", "76561198000000001", "76561198000000002"


@pytest_asyncio.fixture
async def steam() -> AsyncIterator[SteamDouble]:
    async with SteamDouble() as double:
        yield double


@pytest_asyncio.fixture
async def bot(tmp_path: Path, steam: SteamDouble) -> AsyncIterator[BotHarness]:
    settings = Settings(steam_api_url=steam.url, steam_api_key=steam.key)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B], settings=settings) as h:
        yield h


async def rows(h: BotHarness, guild_id: int, sql: str) -> list[tuple[Any, ...]]:
    async with h.bot.manager.connect(guild_id) as db:
        return [tuple(r) for r in await db.execute_fetchall(sql)]


@pytest.mark.parametrize("profile", [GABE, "https://steamcommunity.com/id/gabelogannewell/", "gabelogannewell",
                                     f"https://steamcommunity.com/profiles/{GABE}"])
@pytest.mark.asyncio
async def test_link_by_id_url_or_vanity_then_games_by_playtime(bot: BotHarness, profile: str) -> None:
    reply = await bot.command(GUILD_A, MEMBER, "steam link", {"profile": profile})
    assert reply.ephemeral and reply.content == (f"Linked Steam account **Gabe** ({GABE}).\n"
                                                 "🏆 Achievement unlocked: **Player Two** — Link your Steam account.")
    assert await rows(bot, GUILD_A, "SELECT discord_id, steam_id, vanity_name FROM steam_users") == [
        (MEMBER, GABE, "gabelogannewell")]
    reply = await bot.command(GUILD_A, ADMIN, "steam games", {"member": str(MEMBER)})
    lines = reply.embeds[0]["description"].splitlines()
    assert lines[1:] == ["**1.** Stardew Valley — 244.2 h", "**2.** Team Fortress 2 — 90.0 h",
                         "**3.** Portal 2 — 20.6 h", "**4.** Dota 2 — 0.0 h"]
    assert len(await rows(bot, GUILD_A, "SELECT * FROM steam_games")) == 4


@pytest.mark.asyncio
async def test_games_are_cached_for_an_hour_of_the_bots_clock(bot: BotHarness, steam: SteamDouble) -> None:
    await bot.command(GUILD_A, MEMBER, "steam link", {"profile": "gabelogannewell"})
    for _ in range(2):
        await bot.command(GUILD_A, MEMBER, "steam games")
    assert steam.calls_to("GetOwnedGames") == 1
    await bot.advance(timedelta(minutes=61))
    await bot.command(GUILD_A, MEMBER, "steam games")
    assert steam.calls_to("GetOwnedGames") == 2


@pytest.mark.asyncio
async def test_a_private_profile_and_an_unknown_vanity_each_give_one_sentence(bot: BotHarness) -> None:
    reply = await bot.command(GUILD_A, MEMBER, "steam link", {"profile": "quietone"})
    assert reply.content.split("\n")[0].endswith("Its game details are private, so /steam games cannot show them.")
    reply = await bot.command(GUILD_A, MEMBER, "steam games")
    assert reply.content == ("This Steam profile's game details are private, so its games cannot be shown; they "
                             "can be made public in Steam's privacy settings.")
    reply = await bot.command(GUILD_A, ADMIN, "steam link", {"profile": "nobodyhere"})
    assert reply.content.startswith("No Steam profile has the custom URL “nobodyhere”")
    assert await rows(bot, GUILD_A, f"SELECT * FROM steam_users WHERE discord_id = {ADMIN}") == []
    reply = await bot.command(GUILD_A, ADMIN, "steam games")
    assert reply.content == f"<@{ADMIN}> has not linked a Steam account in this server (/steam link)."


@pytest.mark.parametrize(("fault", "sentence"), [
    (429, "Steam is limiting how often the bot may ask right now; try again in a few minutes."),
    (500, "Steam did not answer properly; try again later.")])
@pytest.mark.asyncio
async def test_steam_rate_limiting_or_failing_is_one_sentence(bot: BotHarness, steam: SteamDouble, fault: int,
                                                              sentence: str) -> None:
    await bot.command(GUILD_A, MEMBER, "steam link", {"profile": MIKA})
    steam.fail(fault)
    assert (await bot.command(GUILD_A, MEMBER, "steam games")).content == sentence
    assert (await bot.command(GUILD_A, ADMIN, "steam link", {"profile": "mikareads"})).content == sentence
    steam.fail(None)
    assert "Hades" in (await bot.command(GUILD_A, MEMBER, "steam games")).embeds[0]["description"]


@pytest.mark.parametrize(("key", "sentence"), [
    (None, "Steam features are off on this bot: its operator has not set a Steam Web API key (STEAM_API_KEY)."),
    ("revoked", "Steam refused this bot's API key; the bot's operator needs to check STEAM_API_KEY.")])
@pytest.mark.asyncio
async def test_a_missing_or_rejected_key_is_one_sentence(tmp_path: Path, steam: SteamDouble, key: str | None,
                                                         sentence: str) -> None:
    settings = Settings(steam_api_url=steam.url, steam_api_key=key)
    async with running_bot(tmp_path / "dbs", guilds=[GUILD_A], settings=settings) as h:
        reply = await h.command(GUILD_A, MEMBER, "steam link", {"profile": "gabelogannewell"})
        assert reply.ephemeral and reply.content == sentence
        assert (await h.command(GUILD_A, MEMBER, "steam link", {"profile": GABE})).content == sentence


@pytest.mark.asyncio
async def test_the_same_member_links_apart_in_two_servers_and_unlinks_in_one(bot: BotHarness) -> None:
    await bot.command(GUILD_A, MEMBER, "steam link", {"profile": GABE})
    await bot.command(GUILD_B, MEMBER, "steam link", {"profile": MIKA})
    await bot.command(GUILD_A, MEMBER, "steam games")
    await bot.command(GUILD_B, MEMBER, "steam games")
    assert await rows(bot, GUILD_A, "SELECT steam_id FROM steam_users") == [(GABE,)]
    assert await rows(bot, GUILD_B, "SELECT steam_id FROM steam_users") == [(MIKA,)]
    assert {r[0] for r in await rows(bot, GUILD_B, "SELECT name FROM steam_games")} == {"Hades", "Hollow Knight"}
    reply = await bot.command(GUILD_A, MEMBER, "steam unlink")
    assert reply.content == "Your Steam link in this server is removed."
    assert await rows(bot, GUILD_A, "SELECT * FROM steam_users") == []
    assert await rows(bot, GUILD_A, "SELECT * FROM steam_games") == []
    assert await rows(bot, GUILD_B, "SELECT steam_id FROM steam_users") == [(MIKA,)]
    await bot.advance(timedelta(seconds=10))  # a sixth command within 10 s would meet the member's budget
    assert (await bot.command(GUILD_A, MEMBER, "steam unlink")).content == (
        "You have no Steam account linked in this server.")
