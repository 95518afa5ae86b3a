"""Achievements: every rule in one table (`RULES`; adding a rule is one entry), evaluated from this
server's file, each unlock recorded once.

A rule measures one number about a member (`MemberFacts`) against a goal. `check_achievements` records
the rules now met and returns only those recorded by this call: the table's UNIQUE (discord_id,
achievement_key) makes "never twice" hold even when two commands evaluate the same member at once.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.db import GuildDb
from app.features.stats import sql_time
from app.shared.store import mark_dirty


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What the rules measure, read from this server's file in one pass."""

    chapters_read: int = 0
    completed: int = 0
    anilist_linked: bool = False
    steam_linked: bool = False
    valid_invites: int = 0
    challenges_won: int = 0
    streak_days: int = 0


@dataclass(frozen=True, slots=True)
class Achievement:
    key: str
    name: str
    description: str
    goal: int
    measure: Callable[[MemberFacts], int]

    def progress(self, facts: MemberFacts) -> int:
        return min(self.measure(facts), self.goal)

    def met(self, facts: MemberFacts) -> bool:
        return self.measure(facts) >= self.goal


RULES: tuple[Achievement, ...] = (
    Achievement("first_link", "First Link", "Link your AniList account in this server", 1,
                lambda f: int(f.anilist_linked)),
    Achievement("chapters_100", "Bookworm", "Read 100 chapters", 100, lambda f: f.chapters_read),
    Achievement("chapters_1000", "Avid Reader", "Read 1,000 chapters", 1_000, lambda f: f.chapters_read),
    Achievement("chapters_10000", "Library Dweller", "Read 10,000 chapters", 10_000, lambda f: f.chapters_read),
    Achievement("first_finish", "First Finish", "Complete a manga", 1, lambda f: f.completed),
    Achievement("completionist", "Completionist", "Complete 10 manga", 10, lambda f: f.completed),
    Achievement("streak_7", "Week Streak", "Record reading progress on 7 days in a row", 7,
                lambda f: f.streak_days),
    Achievement("challenge_winner", "Champion", "Win a reading challenge", 1, lambda f: f.challenges_won),
    Achievement("steam_linked", "Player Two", "Link your Steam account", 1, lambda f: int(f.steam_linked)),
    Achievement("recruiter", "Recruiter", "Bring 5 members who stayed into this server", 5,
                lambda f: f.valid_invites),
)
BY_KEY = {rule.key: rule for rule in RULES}
# The keys /achievements shows, as JSON for `IN (SELECT value FROM json_each(?))`: the legacy bot's own keys
# (first_login, bookworm_100 …) stay in the file but are counted nowhere (profile, boards, cross-server figures).
SHOWN_KEYS_JSON = json.dumps([rule.key for rule in RULES])

_CHALLENGES_WON = """
WITH totals AS (SELECT challenge_id, discord_id, SUM(points_earned) AS points,
                       MAX(CASE WHEN points_earned > 0 THEN updated_at END) AS reached
                FROM user_progress GROUP BY challenge_id, discord_id),
     ranked AS (SELECT challenge_id, discord_id, points, ROW_NUMBER() OVER (PARTITION BY challenge_id
                       ORDER BY points DESC, reached IS NULL, reached, discord_id) AS place FROM totals)
SELECT COUNT(*) FROM ranked JOIN challenges USING (challenge_id)
WHERE ranked.discord_id = ? AND ranked.place = 1 AND ranked.points > 0 AND challenges.is_active = 0
"""  # the winner as /challenge leaderboard ranks them: a tie goes to whoever got there first


# The days a member recorded progress, plus the day of each progress row's last update: rows written before
# reading_days existed (the legacy bot's, or before migration 3) still count.
_READING_DAYS = """
SELECT day FROM reading_days WHERE discord_id = ?
UNION
SELECT substr(updated_at, 1, 10) FROM user_manga_progress WHERE discord_id = ? AND updated_at IS NOT NULL
"""


def streak_from(days: list[date]) -> int:
    """The longest run of consecutive days among `days`."""
    longest = run = 0
    previous: date | None = None
    for day in sorted(set(days)):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest, previous = max(longest, run), day
    return longest


def _one(conn: sqlite3.Connection, sql: str, user_id: int) -> int:
    row = conn.execute(sql, (user_id,)).fetchone()
    return int(row[0] or 0) if row else 0


def _facts(conn: sqlite3.Connection, user_id: int) -> MemberFacts:
    chapters, completed = conn.execute(
        "SELECT COALESCE(SUM(chapters_read), 0), COALESCE(SUM(status = 'COMPLETED'), 0) "
        "FROM user_manga_progress WHERE discord_id = ?", (user_id,)).fetchone()
    cached = _one(conn, "SELECT total_chapters FROM cached_stats WHERE discord_id = ?", user_id)
    dates = [day for (text,) in conn.execute(_READING_DAYS, (user_id, user_id))
             if (day := _as_date(text)) is not None]
    return MemberFacts(
        chapters_read=max(int(chapters), cached), completed=int(completed),
        anilist_linked=bool(_one(conn, "SELECT anilist_id IS NOT NULL FROM users WHERE discord_id = ?", user_id)),
        steam_linked=bool(_one(conn, "SELECT COUNT(*) FROM steam_users WHERE discord_id = ?", user_id)),
        valid_invites=_one(conn, "SELECT valid_invites FROM recruitment_stats WHERE inviter_id = ?", user_id),
        challenges_won=_one(conn, _CHALLENGES_WON, user_id), streak_days=streak_from(dates))


def _as_date(text: object) -> date | None:
    """A stored day, or None for text that is not one (a hand-edited or legacy row)."""
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


async def fetch_member_facts(db: GuildDb, user_id: int) -> MemberFacts:
    return await db.run(lambda conn: _facts(conn, user_id))


async def list_unlocked(db: GuildDb, user_id: int) -> dict[str, str]:
    """Unlocked achievement keys → when (ISO text), for this member here."""
    rows = await db.execute_fetchall(
        "SELECT achievement_key, unlocked_at FROM achievements WHERE discord_id = ?", (user_id,))
    return {str(key): str(at or "") for key, at in rows}


def _record(conn: sqlite3.Connection, user_id: int, keys: list[str], at: str) -> list[str]:
    new = []
    for key in keys:
        row = conn.execute("INSERT INTO achievements (discord_id, achievement_key, unlocked_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (discord_id, achievement_key) DO NOTHING RETURNING achievement_key",
                           (user_id, key, at)).fetchone()
        if row is not None:
            new.append(key)
    return new


def _met(facts: MemberFacts) -> list[str]:
    return [rule.key for rule in RULES if rule.met(facts)]


async def check_achievements(db: GuildDb, user_id: int, now: datetime | None = None) -> list[Achievement]:
    """Evaluate every rule for this member, record what is newly met (unlocked at `now`, the bot's clock),
    return only those (never twice)."""
    if db.is_copy and not _met(await fetch_member_facts(db, user_id)):
        return []  # a guild never written, and nothing met: no file is built (a transaction would) to say so
    async with db.transaction():
        met = _met(await fetch_member_facts(db, user_id))
        if not met:
            return []
        at = sql_time(now or datetime.now(UTC))
        new = await db.run(lambda conn: _record(conn, user_id, met, at))
    if new:
        mark_dirty(db, user_id)  # cross-server figures: the next batch, if shared
    return [BY_KEY[key] for key in new]


def format_unlocks(unlocked: list[Achievement]) -> str | None:
    """One line per new achievement for a reply, or None when there is nothing new."""
    if not unlocked:
        return None
    return "\n".join(f"🏆 Achievement unlocked: **{a.name}** — {a.description}." for a in unlocked)


@dataclass(frozen=True, slots=True)
class AchievementStatus:
    rule: Achievement
    unlocked_at: str | None
    progress: int

    def line(self) -> str:
        if self.unlocked_at is not None:
            return f"🏆 **{self.rule.name}** — {self.rule.description} (since {self.unlocked_at[:10]})"
        return f"🔒 **{self.rule.name}** — {self.rule.description} ({self.progress:,}/{self.rule.goal:,})"


async def list_achievement_status(db: GuildDb, user_id: int) -> list[AchievementStatus]:
    """Every rule for this member: unlocked ones first (in rule order), then locked with progress."""
    facts = await fetch_member_facts(db, user_id)
    unlocked = await list_unlocked(db, user_id)
    statuses = [AchievementStatus(rule, unlocked.get(rule.key), rule.progress(facts)) for rule in RULES]
    return sorted(statuses, key=lambda s: s.unlocked_at is None)
