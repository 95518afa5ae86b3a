"""Manga lookups for commands: memory first, then the bot-wide file's `manga_cache`, then AniList.

Media data is public and the same for every server, so it is the one thing shared bot-wide
(never anything about a member). Searches are cached in memory only: their ranking is AniList's
and changes; the media they return are written through to both caches.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from cachetools import TTLCache

from app.db import BotDb
from app.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from app.features.text import shown
from app.services.anilist import AniListClient
from app.services.anilist_models import Media

MEDIA_TTL_S = 5 * 3600  # as Annie Mei caches AniList answers; a releasing manga's count may grow meanwhile
SEARCH_TTL_S = 3600
MAX_MEDIA = 4096
MAX_SEARCHES = 1024

SUGGEST_MIN_CHARS = 2
SUGGEST_BUDGET_S = 2.0
SUGGEST_MAX_WAIT_S = 0.5
TITLE_SEARCH_MAX = 100
MAX_CHOICES = 25  # Discord's limit
CHOICE_NAME_MAX = 100

ConnectBot = Callable[[], AbstractAsyncContextManager[BotDb]]


class MediaLookup:
    """One per bot (injectable): title search for autocomplete and id lookups, both cached."""

    def __init__(self, client: AniListClient, connect_bot: ConnectBot, *, ttl: float = MEDIA_TTL_S) -> None:
        self.client = client
        self._connect_bot = connect_bot
        self._ttl = ttl
        self._media: TTLCache[int, Media] = TTLCache(MAX_MEDIA, ttl)
        self._searches: TTLCache[str, tuple[int, ...]] = TTLCache(MAX_SEARCHES, SEARCH_TTL_S)

    async def fetch(self, media_id: int) -> Media | None:
        """The manga with this AniList id, or None if AniList has none."""
        media = self._media.get(media_id) or await self._fetch_stored(media_id)
        if media is None:
            media = await self.client.fetch_media(media_id)
            if media is None:
                return None
            await self._store([media])
        self._media[media_id] = media
        return media

    async def search(self, text: str, *, max_wait: float | None = None) -> list[Media]:
        """AniList's matches for `text` (cached for an hour); `max_wait` as in `AniListClient.search_manga`."""
        key = " ".join(text.casefold().split())
        ids = self._searches.get(key)
        if ids is not None and all(i in self._media for i in ids):
            return [self._media[i] for i in ids]
        found = await self.client.search_manga(key, max_wait=max_wait) if key else []
        await self._store(found)
        for media in found:
            self._media[media.id] = media
        self._searches[key] = tuple(m.id for m in found)
        return found

    async def suggest(self, partial: str) -> list[tuple[str, str]]:
        """Autocomplete choices (name, AniList id) for what a member is typing; none if AniList is slow.

        Discord drops an autocomplete answer after 3 s, so AniList gets `SUGGEST_BUDGET_S`, and a
        search that would wait for a paced slot is skipped. Adult media are not suggested.
        """
        text = partial.strip()
        if len(text) < SUGGEST_MIN_CHARS:
            return []
        try:
            async with asyncio.timeout(SUGGEST_BUDGET_S):
                found = await self.search(text[:TITLE_SEARCH_MAX], max_wait=SUGGEST_MAX_WAIT_S)
        except (ServiceUnavailableError, TimeoutError):
            return []
        return [(_choice_name(m), str(m.id)) for m in found if not m.is_adult][:MAX_CHOICES]

    async def resolve(self, title: str) -> Media:
        """The manga a member means by `title`: an AniList id (what autocomplete fills in) or a title.

        Raises:
            InvalidInputError: an empty title.
        NotFoundError: AniList has no manga by that id or title.
        """
        text = title.strip()
        if not text:
            raise InvalidInputError("Give a manga title (pick one of the suggestions while typing) or an AniList id.")
        if text.isascii() and text.isdigit() and len(text) <= 10:
            media = await self.fetch(int(text))
        else:
            found = await self.search(text[:TITLE_SEARCH_MAX])
            wanted = text.casefold()
            media = next((m for m in found if wanted in (t.casefold() for t in m.titles())), None) or (
                found[0] if found else None)
        if media is None:
            raise NotFoundError(f"AniList has no manga called “{shown(text)}”; pick one of the suggestions "
                                "while typing the title.")
        return media

    async def _fetch_stored(self, media_id: int) -> Media | None:
        async with self._connect_bot() as bot_db:
            row = await bot_db.execute_fetchone(
                "SELECT manga_id, title_romaji, title_english, chapters, volumes, genres FROM manga_cache "
                "WHERE manga_id = ? AND fetched_at >= datetime('now', ?)", (media_id, f"-{int(self._ttl)} seconds"))
        if row is None:
            return None
        return Media(id=row["manga_id"], romaji=row["title_romaji"], english=row["title_english"],
                     chapters=row["chapters"] or None, volumes=row["volumes"] or None,  # 0: unknown, as from AniList
                     genres=tuple(json.loads(row["genres"] or "[]")))

    async def _store(self, found: list[Media]) -> None:
        if not found:
            return
        rows = [(m.id, m.romaji or m.native, m.english, m.chapters, m.volumes, json.dumps(list(m.genres)))
                for m in found]
        async with self._connect_bot() as bot_db, bot_db.transaction():
            await bot_db.executemany(
                "INSERT INTO manga_cache (manga_id, title_romaji, title_english, chapters, volumes, genres, "
                "fetched_at) VALUES (?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP) ON CONFLICT (manga_id) DO UPDATE SET "
                "title_romaji = excluded.title_romaji, title_english = excluded.title_english, "
                "chapters = excluded.chapters, volumes = excluded.volumes, genres = excluded.genres, "
                "fetched_at = excluded.fetched_at", rows)


def _choice_name(media: Media) -> str:
    count = f" ({media.chapters} ch.)" if media.chapters else ""
    title = media.title if len(media.title) + len(count) <= CHOICE_NAME_MAX else (
        media.title[: CHOICE_NAME_MAX - len(count) - 1] + "…")
    return title + count
