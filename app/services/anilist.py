"""The AniList GraphQL client: paced below AniList's real limit, bounded in time, honest about outages.

AniList announces 90 requests/min but enforces 30 (its "degraded" mode), bans for a minute when
exceeded, sits behind Cloudflare (HTML bodies on gateway errors) and answers 404 for unknown *and*
private users. Every failure becomes a `ServiceUnavailableError` with one sentence a member can
read, raised within about two timeouts: a command never hangs on AniList.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from app.errors import ServiceProtocolError, ServiceUnavailableError
from app.services.anilist_models import (
    LIST_QUERY,
    MEDIA_QUERY,
    RECOMMENDATIONS_QUERY,
    SEARCH_QUERY,
    USER_QUERY,
    USER_STATS_QUERY,
    AniListUser,
    ListEntry,
    MangaStats,
    Media,
)

log = logging.getLogger("app.services.anilist")

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_BAN_S = 60.0  # AniList's timeout after a 429 when it sends neither Retry-After nor a reset time
MAX_QUEUE_WAIT_S = 20.0  # beyond this, tell the member to come back rather than keep them waiting
SEARCH_PER_PAGE_MAX = 50
LIST_CHUNKS_MAX = 4  # a list's chunks read per /recommend (500 entries each)

DOWN = "AniList is down at the moment (its API is disabled); please try again later."
UNREACHABLE = "AniList is unreachable right now; please try again in a few minutes."
SLOW = "AniList is not answering in time right now; please try again in a few minutes."


def busy(seconds: float) -> str:
    return f"AniList is busy; please try again in {max(1, math.ceil(seconds))} seconds."


class _Retry(Exception):
    """A transient failure worth one more try (timeout, connection, 5xx)."""

    def __init__(self, message: str, *, slow: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.slow = slow


class AniListClient:
    """One per bot: every AniList request goes through `_query`, which paces, bounds and interprets it."""

    def __init__(self, url: str, *, rate_per_min: int = 30, timeout: float | None = None,
                 max_queue_wait: float = MAX_QUEUE_WAIT_S, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.url = url
        self.interval = 60.0 / max(1, rate_per_min)
        self.timeout = DEFAULT_TIMEOUT_S if timeout is None else timeout
        self.max_queue_wait = max_queue_wait
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._next_slot = 0.0
        self._blocked_until = 0.0
        self.requests_sent = 0

    # -- the queries ---------------------------------------------------------
    async def fetch_user(self, name: str) -> AniListUser | None:
        """The public user called `name`, or None (unknown or private: AniList answers 404 to both)."""
        data = await self._query(USER_QUERY, {"name": name}, "User")
        return None if data is None else AniListUser(int(data["id"]), str(data["name"]), data.get("siteUrl"))

    async def fetch_manga_stats(self, anilist_id: int) -> MangaStats | None:
        """The user's manga statistics, or None if the account is gone or private now."""
        data = await self._query(USER_STATS_QUERY, {"id": anilist_id}, "User")
        return None if data is None else MangaStats.from_api(data)

    async def fetch_manga_list(self, anilist_id: int) -> list[ListEntry] | None:
        """The manga on the user's list, each once (a custom list repeats entries), or None if the account is
        gone or private now. A long list comes in chunks of 500 (`hasNextChunk`); at most LIST_CHUNKS_MAX are
        read (each is a request of the paced budget)."""
        found: dict[int, ListEntry] = {}
        for chunk in range(1, LIST_CHUNKS_MAX + 1):
            data = await self._query(LIST_QUERY, {"userId": anilist_id, "chunk": chunk}, "MediaListCollection")
            if data is None:
                return None if chunk == 1 else list(found.values())
            self._read_chunk(anilist_id, data, found)
            if not data.get("hasNextChunk"):
                break
        return list(found.values())

    @staticmethod
    def _read_chunk(anilist_id: int, data: dict[str, Any], found: dict[int, ListEntry]) -> None:
        for group in data.get("lists") or ():
            for raw in (group if isinstance(group, dict) else {}).get("entries") or ():
                if not isinstance(raw, dict) or raw.get("mediaId") is None:
                    continue
                try:
                    entry = ListEntry.from_api(raw)
                except (KeyError, TypeError, ValueError):  # one entry off the reference's shape: not the list
                    log.warning("AniList list of %s: an entry could not be read: %.200r", anilist_id, raw)
                    continue
                found.setdefault(entry.media_id, entry)

    async def search_manga(self, text: str, *, per_page: int = 10, max_wait: float | None = None) -> list[Media]:
        """Manga whose titles match `text` (AniList's ranking); [] when nothing matches.

        `max_wait` bounds the wait for a free slot (autocomplete must answer within Discord's 3 s).
        """
        variables = {"search": text, "perPage": max(1, min(per_page, SEARCH_PER_PAGE_MAX))}
        data = await self._query(SEARCH_QUERY, variables, "Page", max_wait=max_wait)
        return [Media.from_api(m) for m in (data or {}).get("media") or () if m]

    async def fetch_media(self, media_id: int) -> Media | None:
        """The manga with this AniList id, or None (unknown, or not a manga)."""
        data = await self._query(MEDIA_QUERY, {"id": media_id}, "Media")
        return None if data is None else Media.from_api(data)

    async def fetch_recommendations(self, media_id: int) -> list[Media]:
        """AniList readers' recommendations for a manga, best rated first (deleted or unrated ones left out)."""
        data = await self._query(RECOMMENDATIONS_QUERY, {"id": media_id}, "Media")
        nodes = ((data or {}).get("recommendations") or {}).get("nodes") or ()
        return [Media.from_api(n["mediaRecommendation"]) for n in nodes
                if n and n.get("mediaRecommendation") and (n.get("rating") or 0) > 0]

    def free_in(self) -> float:
        """Seconds until the pace (or a 429's ban) lets the next request start; 0 if one could start now."""
        return max(0.0, self._next_slot - self._clock(), self._blocked_until - self._clock())

    # -- one request -----------------------------------------------------------
    async def _query(self, query: str, variables: dict[str, Any], root: str, *,
                     max_wait: float | None = None) -> dict[str, Any] | None:
        """`data[root]`, None for AniList's "not found"; every read is idempotent, so it is tried twice."""
        for attempt in (1, 2):
            await self._pace(self.max_queue_wait if max_wait is None else max_wait)
            try:
                return await self._post(query, variables, root)
            except _Retry as transient:
                log.warning("AniList %s request failed (attempt %d): %s", root, attempt, transient.message)
                if attempt == 2:
                    raise ServiceUnavailableError(SLOW if transient.slow else UNREACHABLE) from None
        raise AssertionError("unreachable")

    async def _pace(self, max_wait: float) -> None:
        """Reserve the next free slot (at most `rate_per_min` a minute, none before a 429 ban ends)."""
        now = self._clock()
        start = max(now, self._next_slot, self._blocked_until)
        if start - now > max_wait:
            raise ServiceUnavailableError(busy(start - now))
        self._next_slot = start + self.interval
        if start > now:
            await self._sleep(start - now)
        if self._clock() < self._blocked_until:  # a 429 arrived while this request waited its turn
            raise ServiceUnavailableError(busy(self._blocked_until - self._clock()))

    async def _post(self, query: str, variables: dict[str, Any], root: str) -> dict[str, Any] | None:
        self.requests_sent += 1
        # one short-lived session per request: at 30 requests a minute its cost is nothing, and no
        # session outlives the event loop of the bot (or of a test) that made it
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.post(self.url, json={"query": query, "variables": variables},
                                 headers={"Accept": "application/json"}) as response:
                body = await response.read()
                return self._interpret(response.status, response.headers, body, root)
        except TimeoutError:
            raise _Retry(f"timed out after {self.timeout:g} s", slow=True) from None
        except aiohttp.ClientError as error:
            raise _Retry(f"connection failed: {type(error).__name__}") from None

    def _interpret(self, status: int, headers: Any, body: bytes, root: str) -> dict[str, Any] | None:
        if status == 429:
            wait = self._ban_seconds(headers)
            self._blocked_until = max(self._blocked_until, self._clock() + wait)
            log.warning("AniList rate limit hit: no requests for %.0f s", wait)
            raise ServiceUnavailableError(busy(wait))
        payload = _json_object(body)
        if payload is None:
            if status >= 500 or status == 200:
                raise _Retry(f"HTTP {status} with a body that is not JSON")
            raise ServiceUnavailableError(UNREACHABLE)
        if status == 403:
            raise ServiceUnavailableError(DOWN)
        raw_data = payload.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        if status == 404 and data.get(root) is None:
            return None
        if status >= 500:
            raise _Retry(f"HTTP {status}")
        if status != 200 or data.get(root) is None:
            errors = payload.get("errors") or []
            raise ServiceProtocolError(f"AniList answered HTTP {status} to a {root} query: {str(errors)[:300]}")
        value = data[root]
        return value if isinstance(value, dict) else None

    def _ban_seconds(self, headers: Any) -> float:
        """Retry-After, else X-RateLimit-Reset (a Unix time), else AniList's one-minute ban."""
        for name, relative in (("Retry-After", True), ("X-RateLimit-Reset", False)):
            raw = headers.get(name)
            try:
                value = float(raw) if raw is not None else None
            except ValueError:
                value = None
            if value is not None:
                return max(1.0, value if relative else value - self._wall())
        return DEFAULT_BAN_S


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None
