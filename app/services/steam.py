"""The Steam Web API client: profile references → SteamID64, player summaries, owned games (cached).

Key from STEAM_API_KEY, base URL from STEAM_API_URL. Every failure is one sentence a member may read:
no key, a key Steam refuses (401/403, HTML bodies), Steam rate-limiting (429, no Retry-After) or down
(5xx, timeouts), an unknown vanity name, a private game list (`{"response": {}}`). Owned games are
public data about a Steam account: cached per SteamID for `games_ttl` on the bot's clock.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import cachetools

from app.errors import NotFoundError, UserFacingError

ID64_BASE = 76561197960265728  # individual accounts, public universe: the base plus the account id
GAMES_TTL_S = 3600.0
TIMEOUT_S = 10.0
_ID64 = re.compile(r"7656119\d{10}")
_STEAM2 = re.compile(r"STEAM_[0-5]:([01]):(\d+)", re.IGNORECASE)
_STEAM3 = re.compile(r"\[U:1:(\d+)\]", re.IGNORECASE)
_VANITY = re.compile(r"[A-Za-z0-9_-]{2,32}")
_URL = re.compile(r"(?:https?://)?(?:www\.)?steamcommunity\.com/(profiles|id)/([^/?#\s]+)/?", re.IGNORECASE)


class SteamError(UserFacingError):
    """Steam could not answer what was asked; the message says why in one sentence."""


class SteamNotConfiguredError(SteamError):
    def __init__(self) -> None:
        super().__init__("Steam features are off on this bot: its operator has not set a Steam Web API key "
                         "(STEAM_API_KEY).")


class SteamKeyRejectedError(SteamError):
    def __init__(self) -> None:
        super().__init__("Steam refused this bot's API key; the bot's operator needs to check STEAM_API_KEY.")


class SteamUnavailableError(SteamError):
    """429 or 5xx or no answer."""


class SteamPrivateError(SteamError):
    """The profile's game details are not public."""


class SteamProfileNotFoundError(SteamError, NotFoundError):
    """No Steam profile matches."""


@dataclass(frozen=True, slots=True)
class PlayerSummary:
    steamid: str
    personaname: str
    profileurl: str
    public: bool


@dataclass(frozen=True, slots=True)
class OwnedGame:
    appid: int
    name: str
    playtime_minutes: int


def parse_profile(text: str) -> tuple[str | None, str | None]:
    """(SteamID64, None) or (None, vanity name) for a SteamID64, Steam2/Steam3 id, profile URL or vanity name.

    Raises:
        SteamProfileNotFoundError: text that cannot name a Steam profile.
    """
    text = text.strip()
    url = _URL.fullmatch(text)
    if url is not None:
        kind, value = url.group(1).lower(), url.group(2)
        if kind == "id":
            return _vanity(value)
        text = value
    if _ID64.fullmatch(text):
        return text, None
    if (m := _STEAM2.fullmatch(text)) is not None:
        return str(ID64_BASE + int(m.group(2)) * 2 + int(m.group(1))), None
    if (m := _STEAM3.fullmatch(text)) is not None:
        return str(ID64_BASE + int(m.group(1))), None
    return _vanity(text)


def _vanity(name: str) -> tuple[None, str]:
    if not _VANITY.fullmatch(name):
        raise SteamProfileNotFoundError(f"“{name[:40]}” is not a Steam profile: give your SteamID64, your profile "
                                        "URL or your custom URL name.")
    return None, name


class SteamClient:
    """One per bot; a short-lived HTTP session per call (Steam is called rarely, on a member's request)."""

    def __init__(self, api_key: str | None, base_url: str, *, now: Callable[[], datetime] | None = None,
                 games_ttl: float = GAMES_TTL_S, timeout: float = TIMEOUT_S) -> None:
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        clock = now or (lambda: datetime.now(UTC))  # the bot's clock: the sandbox's `clock +2h` expires the cache
        self._games: cachetools.TTLCache[str, list[OwnedGame]] = cachetools.TTLCache(
            maxsize=4096, ttl=games_ttl, timer=lambda: clock().timestamp())

    async def resolve(self, profile: str) -> str:
        """The SteamID64 a member's profile reference names (vanity names through ResolveVanityURL).

        Raises:
            SteamProfileNotFoundError: an unknown vanity name, or text that names no profile.
            SteamError: no key, a refused key, Steam unavailable.
        """
        steamid, vanity = parse_profile(profile)
        if steamid is not None:
            return steamid
        body = await self._get("/ISteamUser/ResolveVanityURL/v1/", {"vanityurl": vanity or ""})
        if body.get("success") != 1 or not body.get("steamid"):
            raise SteamProfileNotFoundError(f"No Steam profile has the custom URL “{vanity}”; check the name "
                                            "in your profile's address, or give your SteamID64.")
        return str(body["steamid"])

    async def summary(self, steamid: str) -> PlayerSummary:
        """Raises:
            SteamProfileNotFoundError: no account has this id.
            SteamError: no key, a refused key, Steam unavailable.
        """
        body = await self._get("/ISteamUser/GetPlayerSummaries/v2/", {"steamids": steamid})
        players = body.get("players") or []
        if not players:
            raise SteamProfileNotFoundError(f"No Steam account has the id {steamid}.")
        p = players[0]
        return PlayerSummary(str(p["steamid"]), str(p.get("personaname", "")), str(p.get("profileurl", "")),
                             p.get("communityvisibilitystate") == 3)

    async def owned_games(self, steamid: str) -> list[OwnedGame]:
        """The account's games, most played first (cached for the TTL).

        Raises:
            SteamPrivateError: the game details are private.
            SteamError: no key, a refused key, Steam unavailable.
        """
        cached = self._games.get(steamid)
        if cached is not None:
            return cached
        body = await self._get("/IPlayerService/GetOwnedGames/v1/", {
            "steamid": steamid, "include_appinfo": "1", "include_played_free_games": "1"})
        if "games" not in body and "game_count" not in body:
            raise SteamPrivateError("This Steam profile's game details are private, so its games cannot be "
                                    "shown; they can be made public in Steam's privacy settings.")
        games = sorted((OwnedGame(int(g["appid"]), str(g.get("name") or g["appid"]), int(g.get("playtime_forever", 0)))
                        for g in body.get("games") or []), key=lambda g: (-g.playtime_minutes, g.name))
        self._games[steamid] = games
        return games

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if not self._key:
            raise SteamNotConfiguredError()
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session, session.get(
                    self._base + path, params={"key": self._key, **params}) as response:
                if response.status in (401, 403):
                    raise SteamKeyRejectedError()
                if response.status == 429:
                    raise SteamUnavailableError("Steam is limiting how often the bot may ask right now; "
                                                "try again in a few minutes.")
                if response.status != 200:
                    raise SteamUnavailableError("Steam did not answer properly; try again later.")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise SteamUnavailableError("Steam did not answer; try again later.") from error
        inner = body.get("response") if isinstance(body, dict) else None
        if not isinstance(inner, dict):
            raise SteamUnavailableError("Steam did not answer properly; try again later.")
        return inner
