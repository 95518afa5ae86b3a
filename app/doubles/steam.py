"""A local Steam Web API double: the routes the bot uses, served from a catalogue, with Steam's failures.

    async with SteamDouble(SteamCatalogue.builtin()) as steam:
        settings = Settings(steam_api_url=steam.url, steam_api_key=steam.key)
        steam.fail(429)      # every call answers 429 (HTML, no Retry-After) until steam.fail(None)

As ../shared/reference/discord-invites-and-steam.md Part B says Steam does: ResolveVanityURL (200 with
`success` 1 or 42), GetPlayerSummaries (200, `players: []` for an unknown id; a private profile keeps
only its public keys), GetOwnedGames and GetRecentlyPlayedGames (`{"response": {}}` for a private
profile). A wrong key: 403 HTML on ISteamUser, 401 HTML on IPlayerService. Ids are strings, playtimes
minutes. The catalogue format is a contract (docs/discord-double.md, ARCHITECTURE):

    {"players": [{"steamid", "personaname", "vanity", "public", "games": [{"appid", "name", "playtime_forever"}]}]}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from app.doubles.loopback import LoopbackServer, Served
from app.errors import ConfigurationError

BUILTIN = Path(__file__).with_name("steam_catalogue.json")
SANDBOX_KEY = "sandbox-steam-key"
DENIED = ("<html><head><title>{title}</title></head><body><h1>{title}</h1>Access is denied. Retrying will not "
          "help. Please verify your <pre>key=</pre> parameter.</body></html>")
FAULT_HTML = {429: "<html><head><title>Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>",
              500: "<html><head><title>Internal Server Error</title></head><body><h1>Internal Server Error</h1>"
                   "</body></html>"}


@dataclass(frozen=True)
class Player:
    steamid: str
    personaname: str
    vanity: str | None = None
    public: bool = True
    games: list[dict[str, Any]] = field(default_factory=list)


class SteamCatalogue:
    """Players by SteamID64 and by vanity name."""

    def __init__(self, players: list[Player]) -> None:
        self.players = {p.steamid: p for p in players}
        self._by_exact_vanity = {p.vanity: p for p in players if p.vanity}
        self.by_vanity: dict[str, Player] = {}
        for player in players:  # names differing only by case: an exact match wins, else the first listed
            if player.vanity:
                self.by_vanity.setdefault(player.vanity.casefold(), player)

    def player_by_vanity(self, name: str) -> Player | None:
        return self._by_exact_vanity.get(name) or self.by_vanity.get(name.casefold())

    @classmethod
    def builtin(cls) -> SteamCatalogue:
        return cls.load(BUILTIN)

    @classmethod
    def load(cls, path: Path) -> SteamCatalogue:
        """Raises:
            ConfigurationError: the file is missing, not JSON, or not in the catalogue format.
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM (Windows editors) is not JSON
        except OSError as e:
            raise ConfigurationError(f"Cannot read the Steam catalogue {path}: {e.strerror}.") from None
        except ValueError as e:
            raise ConfigurationError(f"The Steam catalogue {path} is not valid JSON ({e}).") from None
        try:
            if not isinstance(raw, dict):
                raise _Invalid("the file must be a JSON object")
            if not isinstance(raw.get("players"), list):
                raise _Invalid("players must be a list")
            players = [_player(p, f"players[{n}]") for n, p in enumerate(raw["players"])]
            seen: set[str] = set()
            for n, player in enumerate(players):
                if player.steamid in seen:
                    raise _Invalid(f"players[{n}].steamid {player.steamid} is given twice (each steamid is unique)")
                seen.add(player.steamid)
        except _Invalid as e:
            raise ConfigurationError(f"The Steam catalogue {path} is not in the catalogue format: {e}.") from None
        return cls(players)


PERSON_ID64_PREFIX = "7656119"  # individual accounts (the reference, B7)
APPID_MAX, PLAYTIME_MAX = 2**32 - 1, 2**31 - 1  # Steam's uint32 app ids and int32 minutes


class _Invalid(ValueError):
    """An entry off the format; the message names it ("players[2].public must be ...")."""


def _player(raw: Any, where: str) -> Player:
    if not isinstance(raw, dict):
        raise _Invalid(f"{where} must be a JSON object")
    steamid = str(raw.get("steamid"))
    if isinstance(raw.get("steamid"), bool) or not (steamid.isdecimal() and len(steamid) == 17
                                                    and steamid.startswith(PERSON_ID64_PREFIX)):
        raise _Invalid(f"{where}.steamid must be a SteamID64 (17 digits starting {PERSON_ID64_PREFIX}, as a string)")
    name, vanity, public = raw.get("personaname"), raw.get("vanity"), raw.get("public", True)
    if not isinstance(name, str):
        raise _Invalid(f"{where}.personaname must be a string")
    if vanity is not None and not isinstance(vanity, str):
        raise _Invalid(f"{where}.vanity must be a string or null")
    if public is not None and not isinstance(public, bool):
        raise _Invalid(f"{where}.public must be true, false or null")
    games = raw.get("games")
    if games is not None and not isinstance(games, list):
        raise _Invalid(f"{where}.games must be a list or null")
    return Player(steamid, name, vanity or None, public is not False,
                  [_game(g, f"{where}.games[{n}]") for n, g in enumerate(games or [])])


def _game(raw: Any, where: str) -> dict[str, Any]:
    """A game as GetOwnedGames lists it; a game without a name has none in Steam's answer either."""
    if not isinstance(raw, dict):
        raise _Invalid(f"{where} must be a JSON object")
    appid, name, minutes = raw.get("appid"), raw.get("name"), raw.get("playtime_forever")
    if isinstance(appid, bool) or not isinstance(appid, int) or not 1 <= appid <= APPID_MAX:
        raise _Invalid(f"{where}.appid must be a whole number from 1 to {APPID_MAX}")
    if name is not None and not isinstance(name, str):
        raise _Invalid(f"{where}.name must be a string or null")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)
                                or not 0 <= minutes <= PLAYTIME_MAX):
        raise _Invalid(f"{where}.playtime_forever must be a whole number of minutes from 0 to {PLAYTIME_MAX} or null")
    game: dict[str, Any] = {"appid": appid, "playtime_forever": minutes or 0}
    return game if name is None else {**game, "name": name}


class SteamDouble(Served):
    """The HTTP server, its switches (`fail`) and what it was asked (`calls`: method and query)."""

    def __init__(self, catalogue: SteamCatalogue | None = None, *, key: str = SANDBOX_KEY) -> None:
        self.catalogue = catalogue or SteamCatalogue.builtin()
        self.key = key
        self.fault: int | None = None
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._http = LoopbackServer()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, status: int | None) -> None:
        """Answer every call with 429 or 500 from now on (None: behave again)."""
        if status is not None and status not in FAULT_HTML:
            raise ValueError(f"unknown fault {status}: one of {', '.join(map(str, FAULT_HTML))}")
        self.fault = status

    def calls_to(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    async def start(self) -> None:
        app = web.Application()
        for interface, method, versions, handler in (
                ("ISteamUser", "ResolveVanityURL", ("v1", "v0001"), self._resolve),
                ("ISteamUser", "GetPlayerSummaries", ("v2", "v0002"), self._summaries),
                ("IPlayerService", "GetOwnedGames", ("v1", "v0001"), self._owned),
                ("IPlayerService", "GetRecentlyPlayedGames", ("v1", "v0001"), self._recent)):
            for version in versions:
                for slash in ("", "/"):
                    app.router.add_get(f"/{interface}/{method}/{version}{slash}", self._wrap(interface, method,
                                                                                             handler))
        self.port = await self._http.serve(app)

    async def stop(self) -> None:
        await self._http.close()

    def _wrap(self, interface: str, method: str, handler: Any) -> Any:
        async def route(request: web.Request) -> web.Response:
            self.calls.append((method, dict(request.query)))
            if self.fault is not None:
                return web.Response(status=self.fault, text=FAULT_HTML[self.fault], content_type="text/html")
            if request.query.get("key") != self.key:
                status, title = (401, "Unauthorized") if interface == "IPlayerService" else (403, "Forbidden")
                return web.Response(status=status, text=DENIED.format(title=title), content_type="text/html")
            return web.json_response({"response": handler(request.query)})
        return route

    def _resolve(self, query: Any) -> dict[str, Any]:
        player = self.catalogue.player_by_vanity(str(query.get("vanityurl", "")))
        if player is None:
            return {"success": 42, "message": "No match"}
        return {"steamid": player.steamid, "success": 1}

    def _summaries(self, query: Any) -> dict[str, Any]:
        ids = [i for i in str(query.get("steamids", "")).split(",") if i][:100]
        return {"players": [_summary(self.catalogue.players[i]) for i in ids if i in self.catalogue.players]}

    def _owned(self, query: Any) -> dict[str, Any]:
        player = self.catalogue.players.get(str(query.get("steamid", "")))
        if player is None or not player.public:
            return {}
        with_info = query.get("include_appinfo") in ("1", "true")
        games = [g if with_info else {k: v for k, v in g.items() if k != "name"} for g in player.games]
        # a protobuf-backed service method: an empty list is left out, as GetRecentlyPlayedGames does
        return {"game_count": len(games), "games": games} if games else {"game_count": 0}

    def _recent(self, query: Any) -> dict[str, Any]:
        player = self.catalogue.players.get(str(query.get("steamid", "")))
        return {} if player is None or not player.public else {"total_count": 0}


def _summary(player: Player) -> dict[str, Any]:
    url = f"https://steamcommunity.com/id/{player.vanity}/" if player.vanity else \
        f"https://steamcommunity.com/profiles/{player.steamid}/"
    body: dict[str, Any] = {"steamid": player.steamid, "communityvisibilitystate": 3 if player.public else 1,
                            "profilestate": 1, "personaname": player.personaname, "profileurl": url,
                            "avatar": "", "avatarmedium": "", "avatarfull": "", "avatarhash": "", "personastate": 0}
    if player.public:
        body["timecreated"] = 1_063_407_589
    return body
