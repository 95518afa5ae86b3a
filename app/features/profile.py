"""A member's profile in this server, read from this server's file only (never from AniList)."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from app.db import GuildDb
from app.features.achievements import RULES, SHOWN_KEYS_JSON
from app.features.xp import LevelProgress, progress_for


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: int
    anilist_name: str | None
    anilist_id: int | None
    xp: LevelProgress
    xp_rank: int | None  # None: no XP here yet
    chapters_read: int
    achievements_unlocked: int
    steam_name: str | None  # vanity name, else the SteamID; None when not linked

    @property
    def achievements_total(self) -> int:
        return len(RULES)


def _read(conn: sqlite3.Connection, user_id: int) -> Profile:
    link = conn.execute("SELECT anilist_username, anilist_id FROM users WHERE discord_id = ?", (user_id,)).fetchone()
    xp_row = conn.execute("SELECT xp FROM user_xp WHERE discord_id = ?", (user_id,)).fetchone()
    xp = int(xp_row[0]) if xp_row else 0
    rank = conn.execute("SELECT COUNT(*) + 1 FROM user_xp WHERE xp > ?", (xp,)).fetchone()[0] if xp > 0 else None
    progress_sum = conn.execute("SELECT COALESCE(SUM(chapters_read), 0) FROM user_manga_progress "
                                "WHERE discord_id = ?", (user_id,)).fetchone()[0]
    cached = conn.execute("SELECT total_chapters FROM cached_stats WHERE discord_id = ?", (user_id,)).fetchone()
    unlocked = conn.execute("SELECT COUNT(*) FROM achievements WHERE discord_id = ? AND achievement_key IN "
                            "(SELECT value FROM json_each(?))", (user_id, SHOWN_KEYS_JSON)).fetchone()[0]
    steam = conn.execute("SELECT vanity_name, steam_id FROM steam_users WHERE discord_id = ?", (user_id,)).fetchone()
    return Profile(
        user_id=user_id, anilist_name=link[0] if link and link[1] is not None else None,
        anilist_id=int(link[1]) if link and link[1] is not None else None, xp=progress_for(xp),
        xp_rank=int(rank) if rank is not None else None,
        chapters_read=max(int(progress_sum), int(cached[0]) if cached else 0), achievements_unlocked=int(unlocked),
        steam_name=(steam[0] or steam[1]) if steam else None)


async def fetch_profile(db: GuildDb, user_id: int) -> Profile:
    """Everything /profile shows, in one pass over this server's file."""
    return await db.run(lambda conn: _read(conn, user_id))


def progress_bar(into: int, span: int, width: int = 10) -> str:
    filled = 0 if span <= 0 else min(width, into * width // span)
    return "▰" * filled + "▱" * (width - filled)
