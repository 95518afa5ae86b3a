"""The aggregates a guild file yields: a server's figures and its members' totals (computed in the guild's file).

Only these numbers ever leave a guild's file, and only for servers and members that agreed.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from app.db import GuildDb
from app.features.achievements import SHOWN_KEYS_JSON

TOP_GENRES = 5

# As the server's own /leaderboard counts chapters: the larger of the progress kept here and the
# AniList totals cached here (app/features/leaderboard.py).
_CHAPTERS = """
    SELECT discord_id, MAX(SUM(progress), SUM(cached)) AS value FROM (
        SELECT discord_id, chapters_read AS progress, 0 AS cached FROM user_manga_progress
        UNION ALL SELECT discord_id, 0, total_chapters FROM cached_stats)
    GROUP BY discord_id"""
_MEMBER = (f"SELECT (SELECT COALESCE(MAX(value), 0) FROM ({_CHAPTERS}) WHERE discord_id = :u), "  # noqa: S608
           "(SELECT COALESCE(MAX(xp), 0) FROM user_xp WHERE discord_id = :u), "
           "(SELECT COUNT(*) FROM achievements WHERE discord_id = :u "
           "AND achievement_key IN (SELECT value FROM json_each(:shown)))")
_GENRES = ("SELECT g.value, COUNT(*) AS n FROM cached_stats, json_each(cached_stats.top_genres) AS g "
           "WHERE json_valid(cached_stats.top_genres) AND g.type = 'text' GROUP BY g.value "
           "ORDER BY n DESC, g.value LIMIT ?")


@dataclass(frozen=True, slots=True)
class MemberFigures:
    chapters: int
    xp: int
    achievements: int


@dataclass(frozen=True, slots=True)
class ServerFigures:
    members: int  # members with an AniList link here
    chapters_month: int  # chapters of entries updated this month (the month's reading, as far as kept)
    chapters_total: int
    top_genres: tuple[tuple[str, int], ...]  # genre → members who have it among their top genres
    active_challenges: int


def month_start(now: datetime) -> str:
    """The first moment of `now`'s month in the guild files' CURRENT_TIMESTAMP format."""
    return now.strftime("%Y-%m-01 00:00:00")


def member_figures(conn: sqlite3.Connection, user_ids: list[int]) -> dict[int, MemberFigures]:
    figures = {}
    for user_id in user_ids:
        chapters, xp, achievements = conn.execute(_MEMBER, {"u": user_id, "shown": SHOWN_KEYS_JSON}).fetchone()
        figures[user_id] = MemberFigures(int(chapters), int(xp), int(achievements))
    return figures


def server_figures(conn: sqlite3.Connection, since: str) -> ServerFigures:
    members = conn.execute("SELECT COUNT(*) FROM users WHERE anilist_id IS NOT NULL").fetchone()[0]
    total = conn.execute(f"SELECT COALESCE(SUM(value), 0) FROM ({_CHAPTERS})").fetchone()[0]  # noqa: S608
    month = conn.execute("SELECT COALESCE(SUM(chapters_read), 0) FROM user_manga_progress WHERE updated_at >= ?",
                         (since,)).fetchone()[0]
    genres = tuple((str(g), int(n)) for g, n in conn.execute(_GENRES, (TOP_GENRES,)))
    challenges = conn.execute("SELECT COUNT(*) FROM challenges WHERE is_active = 1").fetchone()[0]
    return ServerFigures(int(members), int(month), int(total), genres, int(challenges))


def _snapshot(conn: sqlite3.Connection, since: str, user_ids: list[int]) -> tuple[ServerFigures,
                                                                                   dict[int, MemberFigures]]:
    conn.execute("BEGIN")  # one snapshot for the server's and its members' figures
    try:
        return server_figures(conn, since), member_figures(conn, user_ids)
    finally:
        conn.execute("COMMIT")


async def fetch_figures(db: GuildDb, now: datetime,
                        user_ids: list[int]) -> tuple[ServerFigures, dict[int, MemberFigures]]:
    """This server's figures and those of `user_ids`, in one read of its file."""
    return await db.run(lambda conn: _snapshot(conn, month_start(now), user_ids))
