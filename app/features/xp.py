"""XP and levels: the one level formula, batched XP writes, and the reads leaderboards and profiles use.

Level formula: reaching level L takes `50 · L · (L + 1)` XP in total — 100 XP for level 1,
300 for level 2, 600 for level 3: each level costs 100 XP more than the one before.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db import GuildDb
from app.shared.store import mark_dirty

LEVEL_STEP = 50


def xp_for_level(level: int) -> int:
    """Total XP at which `level` is reached."""
    if level < 0:
        raise ValueError("a level is never negative")
    return LEVEL_STEP * level * (level + 1)


def level_for_xp(xp: int) -> int:
    """The highest level whose threshold `xp` has reached (exact: integer square root, no float)."""
    if xp < 0:
        return 0
    q = xp // LEVEL_STEP  # L(L+1) ≤ xp/50 ⟺ L(L+1) ≤ ⌊xp/50⌋, as L(L+1) is whole
    return (math.isqrt(4 * q + 1) - 1) // 2


@dataclass(frozen=True, slots=True)
class LevelProgress:
    xp: int
    level: int
    into_level: int  # XP earned since this level was reached
    level_span: int  # XP between this level and the next

    @property
    def to_next(self) -> int:
        return self.level_span - self.into_level


def progress_for(xp: int) -> LevelProgress:
    level = level_for_xp(xp)
    floor = xp_for_level(level)
    return LevelProgress(xp, level, xp - floor, xp_for_level(level + 1) - floor)


@dataclass(frozen=True, slots=True)
class LevelUp:
    user_id: int
    level: int


_UPSERT = ("INSERT INTO user_xp (discord_id, xp, level, last_gain_at) VALUES (?, ?, 0, ?) "
           "ON CONFLICT (discord_id) DO UPDATE SET xp = xp + excluded.xp, last_gain_at = excluded.last_gain_at "
           "RETURNING xp, level")


def _apply(conn: sqlite3.Connection, gains: list[tuple[int, int]], now: str) -> list[LevelUp]:
    ups: list[LevelUp] = []
    for user_id, amount in gains:
        xp, stored_level = conn.execute(_UPSERT, (user_id, amount, now)).fetchone()
        level = level_for_xp(xp)
        if level != stored_level:
            conn.execute("UPDATE user_xp SET level = ? WHERE discord_id = ?", (level, user_id))
            if level > stored_level:
                ups.append(LevelUp(user_id, level))
    return ups


async def add_xp(db: GuildDb, gains: list[tuple[int, int]]) -> list[LevelUp]:
    """Add each (member, amount) in one transaction (one thread hop); returns who reached a new level."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with db.transaction():
        ups = await db.run(lambda conn: _apply(conn, gains, now))
    mark_dirty(db, *(user_id for user_id, _ in gains))  # cross-server figures: the next batch, if shared
    return ups


async def fetch_xp(db: GuildDb, user_id: int) -> LevelProgress:
    """A member's XP and level here (zero if they never earned any)."""
    row = await db.execute_fetchone("SELECT xp FROM user_xp WHERE discord_id = ?", (user_id,))
    return progress_for(int(row[0]) if row else 0)
