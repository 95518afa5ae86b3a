"""A local AniList double: the bot's GraphQL queries served from a catalogue, with AniList's failures on demand.

    async with AniListDouble(Catalogue.builtin()) as anilist:
        settings = Settings(anilist_url=anilist.url)
        anilist.fail("429", retry_after=30)   # or "403" (outage), "500" (HTML), "stall"; fail(None) heals

Behaves as ../shared/reference/anilist.md §3-§4 says AniList does: POST / only, 404 with `data.<Root>: null`
for unknown or private users and unknown media, 200 with [] for an empty search, `Page(page:, perPage:)`
followed (perPage capped at 50, `hasNextPage` exact),
a fixed one-minute window of `limit` requests (then 429 with Retry-After for the rest of the minute)
while the headers advertise `advertised`. It is not a GraphQL engine: it recognises the root field of
each query and answers the reference's shapes whole.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from app.doubles.anilist_catalogue import Catalogue, CatalogueUser
from app.doubles.loopback import LoopbackServer, Served

OUTAGE_MESSAGE = ("The AniList API has been temporarily disabled due to severe stability issues. "
                  "Please check the official AniList Discord for more information.")
GATEWAY_HTML = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>" \
               "</center><hr><center>cloudflare</center></body></html>"
TOO_MANY_BODY = '{"data": null,"errors": [{"message": "Too Many Requests.","status": 429}]}'  # AniList's 74 bytes
FAULTS = ("429", "403", "500", "stall")
_ROOT = re.compile(r"\b(User|Page|Media|MediaListCollection)\s*\(")
_PAGE_ARGS = re.compile(r"\bPage\s*\(([^)]*)\)")
_LIST_ARGS = re.compile(r"\bMediaListCollection\s*\(([^)]*)\)")
PER_CHUNK_MAX = 500  # MediaListCollection(perChunk:) is capped at 500, its default
_ARGUMENT = re.compile(r"(\w+)\s*:\s*(\$\w+|-?\d+)")
_VARIABLE_DEFAULT = re.compile(r"\$(\w+)\s*:\s*\w+!?\s*=\s*(-?\d+)")


class AniListDouble(Served):
    """The double's HTTP server and its switches (`fail`, `limit`, `requests`)."""

    def __init__(self, catalogue: Catalogue | None = None, *, limit: int = 30, advertised: int = 90,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.catalogue = catalogue or Catalogue.builtin()
        self.limit, self.advertised = limit, advertised
        self.fault: str | None = None
        self.retry_after: int | None = 30
        self.reset_in: int | None = None
        self.requests: list[dict[str, Any]] = []  # every request body, in order
        self._clock = clock
        self._window_start = 0.0
        self._window_count = 0
        self._banned_until = 0.0
        self._release = asyncio.Event()
        self._http = LoopbackServer()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def fail(self, fault: str | None, *, retry_after: int | None = 30, reset_in: int | None = None) -> None:
        """Answer every request with this fault from now on (None: behave again).

        A 429 carries `Retry-After: retry_after` and, with `reset_in`, `X-RateLimit-Reset` (a Unix time
        that many seconds ahead); None leaves a header out, as AniList sometimes does.
        """
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULTS)}")
        self.fault, self.retry_after, self.reset_in = fault, retry_after, reset_in

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self.port = await self._http.serve(app)

    async def stop(self) -> None:
        self._release.set()  # stalled requests end now
        await self._http.close()

    # -- requests ----------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, "Invalid JSON body.", None)
        self.requests.append(body)
        fault = await self._fault()
        if fault is not None:
            return fault
        limited = self._rate_limit()
        if limited is not None:
            return limited
        query, variables = str(body.get("query") or ""), body.get("variables") or {}
        found = _ROOT.search(query)
        if found is None:
            return _errors(400, "Cannot query field on type \"Query\".", None)
        response = self._answer(found.group(1), query, variables)
        response.headers.update(self._limit_headers())
        return response

    async def _fault(self) -> web.StreamResponse | None:
        if self.fault == "stall":
            await self._release.wait()
            return _errors(500, "stalled", None)
        if self.fault == "403":
            return _errors(403, OUTAGE_MESSAGE, None, locations=True)
        if self.fault == "500":
            return web.Response(status=502, text=GATEWAY_HTML, content_type="text/html")
        if self.fault == "429":
            response = self._too_many(self.retry_after)
            if self.reset_in is not None:
                response.headers["X-RateLimit-Reset"] = str(int(time.time()) + self.reset_in)
            return response
        return None

    def _rate_limit(self) -> web.StreamResponse | None:
        now = self._clock()
        if now < self._banned_until:
            return self._too_many(max(1, int(self._banned_until - now + 0.999)))
        if now - self._window_start >= 60:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self._window_count > self.limit:
            self._banned_until = now + 60
            return self._too_many(60)
        return None

    def _too_many(self, retry_after: int | None) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return web.Response(status=429, text=TOO_MANY_BODY, content_type="application/json", headers=headers)

    def _limit_headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.advertised),
                "X-RateLimit-Remaining": str(max(0, self.advertised - self._window_count))}

    # -- answers -------------------------------------------------------------------
    def _answer(self, root: str, query: str, variables: dict[str, Any]) -> web.Response:
        if root == "User":
            user = self._user(variables)
            if user is None or user.private:
                return _errors(404, "Not Found.", {"User": None}, locations=True)
            return _data({"User": self.catalogue.user_payload(user, with_stats="statistics" in query)})
        if root == "Media":
            media = self.catalogue.media.get(_int(variables.get("id")) or -1)
            if media is None:
                return _errors(404, "Not Found.", {"Media": None}, locations=True)
            if "recommendations" in query:
                media = dict(media, recommendations=self.catalogue.recommendations(media["id"]))
            return _data({"Media": media})
        if root == "MediaListCollection":
            user = self._user({"id": variables.get("userId"), "name": variables.get("userName")})
            if user is None or user.private:
                return _errors(404, "Private User" if user else "Not Found.", {"MediaListCollection": None})
            chunk = max(1, _page_argument(query, variables, "chunk", _LIST_ARGS) or 1)
            per_chunk = max(1, min(PER_CHUNK_MAX, _page_argument(query, variables, "perChunk", _LIST_ARGS)
                                   or PER_CHUNK_MAX))
            return _data({"MediaListCollection": self.catalogue.list_collection(user, chunk=chunk,
                                                                                 per_chunk=per_chunk)})
        per_page = max(1, min(50, _page_argument(query, variables, "perPage") or 10))
        page = max(1, _page_argument(query, variables, "page") or 1)
        found = self.catalogue.search(str(variables.get("search") or ""))
        start = (page - 1) * per_page
        return _data({"Page": {"pageInfo": {"hasNextPage": len(found) > start + per_page},
                               "media": found[start:start + per_page]}})

    def _user(self, variables: dict[str, Any]) -> CatalogueUser | None:
        if variables.get("id") is not None:
            return self.catalogue.user_by_id(_int(variables.get("id")))
        return self.catalogue.user_by_name(str(variables.get("name") or ""))


def _page_argument(query: str, variables: dict[str, Any], name: str, field: re.Pattern[str] = _PAGE_ARGS) -> int | None:
    """An integer argument of the query's `Page(...)` (or another `field`'s) as GraphQL reads it: a literal, or a
    variable (given, else its default in the operation's signature); None if absent."""
    args = field.search(query)
    value = dict(_ARGUMENT.findall(args.group(1))).get(name) if args else None
    if value is None or not value.startswith("$"):
        return _int(value)
    name = value[1:]
    if variables.get(name) is not None:
        return _int(variables[name])
    return _int(dict(_VARIABLE_DEFAULT.findall(query)).get(name))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _data(data: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps({"data": data}), content_type="application/json")


def _errors(status: int, message: str, data: dict[str, Any] | None, *, locations: bool = False) -> web.Response:
    error: dict[str, Any] = {"message": message, "status": status}
    if locations:
        error["locations"] = [{"line": 2, "column": 3}]
    return web.Response(status=status, text=json.dumps({"errors": [error], "data": data}),
                        content_type="application/json")
