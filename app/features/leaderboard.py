"""Leaderboards of this server: XP, chapters read, achievements; ranks shared on ties (1, 2, 2, 4)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.db import GuildDb
from app.errors import InvalidInputError
from app.features.achievements import SHOWN_KEYS_JSON
from app.features.xp import level_for_xp

MAX_LISTED = 1_000  # 100 pages: a member further down still sees their own rank on every page


class Kind(StrEnum):
    XP = "xp"
    CHAPTERS = "chapters"
    ACHIEVEMENTS = "achievements"


# Each board is (discord_id, value) with value > 0; chapters are the larger of the progress kept here
# and the AniList totals cached here, as on /profile and for the chapter achievements. Achievements are
# those /achievements shows (`RULES`): keys the legacy bot left (first_login …) are not counted.
_BOARDS: dict[Kind, str] = {
    Kind.XP: "SELECT discord_id, xp AS value FROM user_xp WHERE xp > 0",
    Kind.CHAPTERS: """
        SELECT discord_id, MAX(SUM(progress), SUM(cached)) AS value FROM (
            SELECT discord_id, chapters_read AS progress, 0 AS cached FROM user_manga_progress
            UNION ALL SELECT discord_id, 0, total_chapters FROM cached_stats)
        GROUP BY discord_id HAVING value > 0""",
    Kind.ACHIEVEMENTS: "SELECT discord_id, COUNT(*) AS value FROM achievements "
                       "WHERE achievement_key IN (SELECT value FROM json_each(:keys)) GROUP BY discord_id",
}


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    user_id: int
    value: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    kind: Kind
    entries: list[Entry]
    ranked: int  # members with a value here
    own: Entry | None  # the caller, wherever they stand


def _ranked(rows: list[tuple[int, int]]) -> list[Entry]:
    entries: list[Entry] = []
    for position, (user_id, value) in enumerate(rows, start=1):
        rank = entries[-1].rank if entries and entries[-1].value == value else position
        entries.append(Entry(rank, int(user_id), int(value)))
    return entries


async def fetch_leaderboard(db: GuildDb, kind: Kind, user_id: int, *, limit: int = MAX_LISTED) -> Leaderboard:
    """The top `limit` of this server for `kind`, how many are ranked, and the caller's own rank."""
    board = _BOARDS[kind]
    rows = await db.execute_fetchall(
        f"WITH board AS ({board}) SELECT discord_id, value FROM board ORDER BY value DESC, discord_id "  # noqa: S608
        "LIMIT :limit", {"keys": SHOWN_KEYS_JSON, "limit": limit})
    summary = await db.execute_fetchone(
        f"WITH board AS ({board}) SELECT (SELECT COUNT(*) FROM board), mine.value, "  # noqa: S608
        "(SELECT COUNT(*) FROM board WHERE value > mine.value) + 1 "
        "FROM (SELECT 1) LEFT JOIN board AS mine ON mine.discord_id = :user",
        {"keys": SHOWN_KEYS_JSON, "user": user_id})
    ranked, own_value, own_rank = summary if summary else (0, None, None)
    own = Entry(int(own_rank or 0), user_id, int(own_value)) if own_value is not None else None
    return Leaderboard(kind, _ranked(rows), int(ranked), own)


def parse_kind(text: str) -> Kind:
    """Raises:
        InvalidInputError: not one of the leaderboards.
    """
    try:
        return Kind(text.strip().lower())
    except ValueError:
        raise InvalidInputError(f"There is no {text[:30]!r} leaderboard; choose xp, chapters or achievements.") \
            from None


def describe_value(kind: Kind, value: int) -> str:
    if kind is Kind.XP:
        return f"{value:,} XP (level {level_for_xp(value)})"
    if kind is Kind.CHAPTERS:
        return f"{value:,} chapter{'s' if value != 1 else ''}"
    return f"{value:,} achievement{'s' if value != 1 else ''}"
