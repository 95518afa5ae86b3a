"""Reading challenges kept in this server's file (`challenges`, `challenge_manga`, `user_progress`).

A challenge runs from the start of its start day to the end of its end day (UTC, on the bot's clock).
Joining writes a marker row (`manga_id` 0: AniList ids start at 1) plus one row per challenge manga
holding the chapter the member was at: only chapters read past it inside the window score, one point a
chapter, and finishing a challenge manga inside the window adds `FINISH_POINTS` × its weight.
`updated_at` is when a row last scored (the bot's clock): ties go to whoever got there first.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.db import GuildDb
from app.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from app.features.guild_settings import fetch_guild_settings
from app.features.progress import Entry
from app.features.text import shown
from app.services.anilist_models import Media

JOINED = 0  # the marker row's manga_id
FINISH_POINTS = 10
TITLE_MAX, DESCRIPTION_MAX = 100, 500
MAX_DAYS = 366
MAX_MANGA = 25
CHANNEL_KEY = "challenge_channel"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    title: str
    description: str | None
    start: date
    end: date | None  # None: a legacy row with no (readable) end, never due
    active: bool

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(0), UTC)

    @property
    def ends_at(self) -> datetime | None:
        """The end of the end day: the moment the scheduled task announces the winners (the calendar's last
        day ends at its last instant: the day after it does not exist)."""
        if self.end is None:
            return None
        if self.end == date.max:
            return datetime.combine(date.max, time.max, UTC)
        return datetime.combine(self.end + timedelta(days=1), time(0), UTC)

    def running(self, now: datetime) -> bool:
        ends_at = self.ends_at
        return self.active and self.starts_at <= now and (ends_at is None or now < ends_at)


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: int
    points: int
    reached_at: str | None


def parse_day(text: str, what: str) -> date:
    """Raises: InvalidInputError: not a YYYY-MM-DD date (`date.fromisoformat` alone also takes 20270101 and
    ISO week dates such as 2027-W01-1)."""
    day = text.strip()
    try:
        if not _DAY.fullmatch(day):
            raise ValueError(day)
        return date.fromisoformat(day)
    except ValueError:
        raise InvalidInputError(f"The {what} date must look like 2026-12-31 (year-month-day).") from None


async def create_challenge(db: GuildDb, *, title: str, description: str | None, start: str, end: str,
                           created_by: int, now: datetime) -> Challenge:
    """Create a challenge in this server.

    Raises:
        InvalidInputError: a bad title, date or window.
        AlreadyExistsError: a running or upcoming challenge has this title.
    """
    name = " ".join(title.split())
    if not 1 <= len(name) <= TITLE_MAX:
        raise InvalidInputError(f"The title must be 1 to {TITLE_MAX} characters.")
    first, last = parse_day(start, "start"), parse_day(end, "end")
    if last < first:
        raise InvalidInputError("The end date must be on or after the start date.")
    if last < now.date():
        raise InvalidInputError("The end date is already past; pick a day from today on.")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInputError(f"A challenge lasts at most {MAX_DAYS} days.")
    about = (description or "").strip()[:DESCRIPTION_MAX] or None
    async with db.transaction():
        taken = await db.execute_fetchone("SELECT 1 FROM challenges WHERE is_active = 1 AND title = ? COLLATE NOCASE",
                                          (name,))
        if taken:
            raise AlreadyExistsError(f"A challenge called “{shown(name)}” is already running or upcoming here.")
        cur = await db.execute("INSERT INTO challenges (title, description, created_by, start_date, end_date, "
                               "is_active) VALUES (?, ?, ?, ?, ?, 1)",
                               (name, about, created_by, first.isoformat(), last.isoformat()))
    return Challenge(int(cur.lastrowid or 0), name, about, first, last, True)


async def list_challenges(db: GuildDb, *, active_only: bool = False) -> list[Challenge]:
    """This server's challenges: running and upcoming first (by end), then ended ones, newest first."""
    rows = await db.execute_fetchall(
        "SELECT challenge_id, title, description, start_date, end_date, is_active FROM challenges "
        "WHERE is_active = 1 OR NOT ? ORDER BY is_active DESC, CASE WHEN is_active THEN end_date IS NULL END, "
        "CASE WHEN is_active THEN end_date END, end_date DESC, challenge_id DESC", (active_only,))
    return [_challenge(r) for r in rows]


async def resolve_challenge(db: GuildDb, text: str) -> Challenge:
    """The challenge an option names: its id (what autocomplete sends) or its title.

    Raises:
        NotFoundError: no challenge in this server by that id or title.
    """
    wanted = text.strip()
    listed = await list_challenges(db)  # the id (what autocomplete sends) before a title that looks like one
    found = [c for c in listed if str(c.id) == wanted] or [c for c in listed
                                                            if c.title.casefold() == wanted.casefold()]
    if not found:
        raise NotFoundError(f"There is no challenge “{shown(wanted)}” in this server (see /challenge list).")
    return found[0]


async def add_manga(db: GuildDb, challenge: Challenge, media: Media) -> None:
    """Add a manga; members who joined already start counting from where they are in it.

    Raises:
        InvalidInputError: the challenge has ended, or has `MAX_MANGA` manga.
        AlreadyExistsError: the manga is in it already.
    """
    if not challenge.active:
        raise InvalidInputError(f"“{shown(challenge.title)}” has ended; create a new challenge.")
    async with db.transaction():
        count = await db.execute_fetchone("SELECT COUNT(*) FROM challenge_manga WHERE challenge_id = ?",
                                          (challenge.id,))
        if count is not None and count[0] >= MAX_MANGA:
            raise InvalidInputError(f"A challenge holds at most {MAX_MANGA} manga.")
        cur = await db.execute(
            "INSERT INTO challenge_manga (challenge_id, manga_id, title, total_chapters) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING", (challenge.id, media.id, media.title[:200], media.chapters))
        if cur.rowcount == 0:
            raise AlreadyExistsError(f"{shown(media.title)} is already in “{shown(challenge.title)}”.")
        await db.execute(  # members: a marker row, or (legacy) any progress row
            "INSERT INTO user_progress (discord_id, challenge_id, manga_id, chapters_read, status) "
            "SELECT p.discord_id, ?, ?, COALESCE(m.chapters_read, 0), m.status FROM "
            "(SELECT DISTINCT discord_id FROM user_progress WHERE challenge_id = ?) p "
            "LEFT JOIN user_manga_progress m ON m.discord_id = p.discord_id AND m.manga_id = ? "
            "WHERE true ON CONFLICT DO NOTHING", (challenge.id, media.id, challenge.id, media.id))


async def join_challenge(db: GuildDb, challenge: Challenge, user_id: int, now: datetime | None = None) -> None:
    """Join; progress counts from the chapter the member is at in each challenge manga now.

    Raises:
        InvalidInputError: the challenge has ended (or its end has come and the scheduler is about to end it).
        AlreadyExistsError: the member joined already.
    """
    ends_at = challenge.ends_at
    if not challenge.active or (now is not None and ends_at is not None and ends_at <= now):
        raise InvalidInputError(f"“{shown(challenge.title)}” has ended; see /challenge list for running ones.")
    async with db.transaction():
        joined = await db.execute_fetchone("SELECT 1 FROM user_progress WHERE discord_id = ? AND challenge_id = ?",
                                           (user_id, challenge.id))  # legacy members have progress rows only
        if joined:
            raise AlreadyExistsError(f"You are already in “{shown(challenge.title)}”.")
        await db.execute("INSERT INTO user_progress (discord_id, challenge_id, manga_id) VALUES (?, ?, ?)",
                         (user_id, challenge.id, JOINED))
        await db.execute(
            "INSERT INTO user_progress (discord_id, challenge_id, manga_id, chapters_read, status) "
            "SELECT ?, c.challenge_id, c.manga_id, COALESCE(m.chapters_read, 0), m.status FROM challenge_manga c "
            "LEFT JOIN user_manga_progress m ON m.discord_id = ? AND m.manga_id = c.manga_id "
            "WHERE c.challenge_id = ?", (user_id, user_id, challenge.id))


async def record_progress(db: GuildDb, user_id: int, entry: Entry, now: datetime) -> None:
    """`/manga update` recorded `entry`: score it in every running challenge the member joined that has it."""
    rows = await db.execute_fetchall(
        "SELECT c.challenge_id, c.title, c.description, c.start_date, c.end_date, c.is_active, p.chapters_read, "
        "p.status AS old_status, m.points AS weight FROM user_progress p "
        "JOIN challenges c USING (challenge_id) JOIN challenge_manga m USING (challenge_id, manga_id) "
        "WHERE p.discord_id = ? AND p.manga_id = ? AND c.is_active = 1", (user_id, entry.manga_id))
    stamp = now.isoformat(timespec="microseconds")
    async with db.transaction():
        for row in rows:
            gained = 0
            if _challenge(row).running(now):
                gained = max(0, entry.chapters_read - int(row["chapters_read"]))
                if entry.status == "COMPLETED" and row["old_status"] != "COMPLETED":
                    gained += FINISH_POINTS * int(row["weight"])
            await db.execute(  # a finish stays recorded: its bonus is earned once, whatever the status does next
                "UPDATE user_progress SET chapters_read = MAX(chapters_read, ?), "
                "status = CASE WHEN status = 'COMPLETED' THEN status ELSE ? END, "
                "points_earned = points_earned + ?, updated_at = CASE WHEN ? > 0 THEN ? ELSE updated_at END "
                "WHERE discord_id = ? AND challenge_id = ? AND manga_id = ?",
                (entry.chapters_read, entry.status, gained, gained, stamp, user_id, row["challenge_id"],
                 entry.manga_id))


async def standings(db: GuildDb, challenge_id: int) -> list[Standing]:
    """Members who joined, by points, ties to whoever reached their total first."""
    rows = await db.execute_fetchall(
        "SELECT discord_id, SUM(points_earned) AS points, MAX(CASE WHEN points_earned > 0 THEN updated_at END) "
        "AS reached FROM user_progress WHERE challenge_id = ? GROUP BY discord_id "
        "ORDER BY points DESC, reached IS NULL, reached, discord_id", (challenge_id,))
    return [Standing(int(r["discord_id"]), int(r["points"]), r["reached"]) for r in rows]


async def member_challenges(db: GuildDb, user_id: int) -> list[tuple[Challenge, int, int]]:
    """The challenges this member joined, with their points and rank."""
    joined = await db.execute_fetchall("SELECT DISTINCT challenge_id FROM user_progress WHERE discord_id = ?",
                                       (user_id,))
    ids = {int(r["challenge_id"]) for r in joined}
    found = []
    for challenge in await list_challenges(db):
        if challenge.id in ids:
            table = await standings(db, challenge.id)
            rank = next(n for n, s in enumerate(table, start=1) if s.user_id == user_id)
            found.append((challenge, table[rank - 1].points, rank))
    return found


async def end_challenge(db: GuildDb, challenge_id: int) -> list[Standing] | None:
    """Mark it ended; the final standings, or None if it had ended already (announce only once)."""
    async with db.transaction():
        cur = await db.execute("UPDATE challenges SET is_active = 0 WHERE challenge_id = ? AND is_active = 1",
                               (challenge_id,))
    return await standings(db, challenge_id) if cur.rowcount else None


async def due_challenges(db: GuildDb, now: datetime) -> list[Challenge]:
    return [c for c in await list_challenges(db, active_only=True) if (end := c.ends_at) is not None and end <= now]


async def next_end(db: GuildDb) -> datetime | None:
    """When this server's next running challenge ends (what the scheduler waits for)."""
    ends = [end for c in await list_challenges(db, active_only=True) if (end := c.ends_at) is not None]
    return min(ends, default=None)


def winners(table: list[Standing]) -> list[Standing]:
    """The top three who scored."""
    return [s for s in table if s.points > 0][:3]


async def remember_channel(db: GuildDb, channel_id: int, user_id: int) -> None:
    """Where the last challenge was created: the winners go there when no announcement channel is set."""
    async with db.transaction():
        await db.execute("INSERT INTO guild_settings (key, value, updated_by) VALUES (?, ?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by",
                         (CHANNEL_KEY, json.dumps(channel_id), user_id))


async def announcement_channel(db: GuildDb) -> int | None:
    """The server's announcement channel (/settings), else the channel of the last /challenge create."""
    chosen = (await fetch_guild_settings(db)).announce_channel_id
    if chosen is not None:
        return chosen
    row = await db.execute_fetchone("SELECT value FROM guild_settings WHERE key = ?", (CHANNEL_KEY,))
    value = json.loads(row[0]) if row else None
    return value if isinstance(value, int) else None


def _challenge(r: sqlite3.Row) -> Challenge:
    return Challenge(int(r["challenge_id"]), str(r["title"]), r["description"],
                     _stored_day(r["start_date"]) or date(1970, 1, 1), _stored_day(r["end_date"]), bool(r["is_active"]))


def _stored_day(text: object) -> date | None:
    """A stored day; legacy rows may hold a timestamp ("2025-01-01 00:00:00"), NULL or anything."""
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None
