"""`/stats`: a member's AniList manga statistics, kept in this server's `cached_stats` and refreshed when old.

A refresh happens when the row is older than STATS_TTL_HOURS or on request (at most once per
REFRESH_COOLDOWN_S per member and server, checked in memory). When AniList cannot answer, stale
stats are shown with a note rather than nothing.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cachetools import TTLCache

from app.db import GuildDb
from app.errors import NotFoundError, RateLimitedError, ServiceUnavailableError
from app.features.anilist_link import Link, fetch_link
from app.features.text import shown
from app.services.anilist import AniListClient
from app.shared.store import mark_dirty

REFRESH_COOLDOWN_S = 600.0
MAX_TRACKED = 100_000

OpenDb = Callable[[], Awaitable[GuildDb]]


@dataclass(frozen=True, slots=True)
class Stats:
    total_manga: int
    total_chapters: int
    total_volumes: int
    mean_score: float | None
    top_genres: tuple[str, ...]
    cached_at: str  # UTC, "YYYY-MM-DD HH:MM:SS"
    note: str | None = None  # why these may be old


@dataclass(frozen=True, slots=True)
class StatsPlan:
    """What `/stats` will do for one member: show `cached`, or ask AniList first (`stale`)."""

    user_id: int
    link: Link
    cached: Stats | None
    stale: bool


class RefreshCooldown:
    """`refresh:true` at most once per `seconds` for each (guild, member); no database access."""

    def __init__(self, seconds: float = REFRESH_COOLDOWN_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: TTLCache[tuple[int, int], float] = TTLCache(MAX_TRACKED, seconds, timer=clock)

    def claim(self, guild_id: int, user_id: int) -> None:
        """Record a refresh now.

        Raises:
            RateLimitedError: this member refreshed in this server less than `seconds` ago.
        """
        last = self._last.get((guild_id, user_id))
        if last is not None:
            minutes = max(1, math.ceil((last + self.seconds - self._clock()) / 60))
            raise RateLimitedError(f"Stats can be refreshed once every {int(self.seconds // 60)} minutes; "
                                   f"try again in {minutes} minute{'s' if minutes != 1 else ''}.")
        self._last[(guild_id, user_id)] = self._clock()


def sql_time(moment: datetime) -> str:
    """The form SQLite's CURRENT_TIMESTAMP writes (UTC), so old and new rows compare."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


async def fetch_cached(db: GuildDb, user_id: int, ttl_hours: float, now: datetime) -> tuple[Stats | None, bool]:
    """The stored stats and whether they are older than `ttl_hours` at `now` (the bot's clock)."""
    row = await db.execute_fetchone(
        "SELECT total_manga, total_chapters, total_volumes, mean_score, top_genres, cached_at, "
        "(julianday(?) - julianday(cached_at)) * 24 AS age_hours FROM cached_stats WHERE discord_id = ?",
        (sql_time(now), user_id))
    if row is None:
        return None, True
    genres = tuple(str(g) for g in json.loads(row["top_genres"] or "[]"))
    stats = Stats(row["total_manga"], row["total_chapters"], row["total_volumes"], row["mean_score"], genres,
                  str(row["cached_at"]))
    return stats, row["age_hours"] is None or row["age_hours"] >= ttl_hours


async def plan_stats(db: GuildDb, user_id: int, *, ttl_hours: float, refresh: bool, whose: str,
                     now: datetime) -> StatsPlan:
    """Decide whether AniList must be asked (the stored stats are missing, old, or a refresh was asked for).

    Raises:
        NotFoundError: the member has no AniList link in this server.
    """
    link = await fetch_link(db, user_id)
    if link is None:
        raise NotFoundError(f"{whose} not linked an AniList account in this server; link one with /anilist link.")
    cached, old = await fetch_cached(db, user_id, ttl_hours, now)
    return StatsPlan(user_id, link, cached, stale=old or refresh)


async def refresh_stats(open_db: OpenDb, client: AniListClient, plan: StatsPlan, now: datetime) -> Stats:
    """Fetch the member's stats from AniList, then open the server's file and store them.

    The file is opened only once AniList has answered (a slow AniList holds no lease); stats of a
    link that changed meanwhile are not stored. When AniList fails, the stored stats come back with a note.

    Raises:
        NotFoundError: the linked account is private or gone now.
        ServiceUnavailableError: AniList failed and nothing is stored yet.
    """
    try:
        fresh = await client.fetch_manga_stats(plan.link.anilist_id)
    except ServiceUnavailableError as error:
        if plan.cached is None:
            raise
        return replace(plan.cached, note=f"{error.user_message} These are from {plan.cached.cached_at} UTC.")
    if fresh is None:
        raise NotFoundError(f"The AniList account “{shown(plan.link.anilist_name)}” is private or gone now, so "
                            "its stats cannot be read; make it public, or link another with /anilist link.")
    mean = fresh.mean_score if fresh.count else None
    row = (plan.user_id, fresh.count, fresh.chapters_read, fresh.volumes_read, mean,
           json.dumps(list(fresh.genres)), sql_time(now), plan.user_id, plan.link.anilist_id)
    db = await open_db()
    async with db.transaction():
        await db.execute(
            "INSERT INTO cached_stats (discord_id, total_manga, total_chapters, total_volumes, mean_score, "
            "top_genres, cached_at) SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users "
            "WHERE discord_id = ? AND anilist_id = ?) ON CONFLICT (discord_id) DO UPDATE "
            "SET total_manga = excluded.total_manga, total_chapters = excluded.total_chapters, "
            "total_volumes = excluded.total_volumes, mean_score = excluded.mean_score, "
            "top_genres = excluded.top_genres, cached_at = excluded.cached_at", row)
    mark_dirty(db, plan.user_id)  # cross-server figures: the next batch, if shared
    return Stats(fresh.count, fresh.chapters_read, fresh.volumes_read, mean, fresh.genres, sql_time(now))
