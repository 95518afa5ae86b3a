"""Reading progress kept in this server's file (`user_manga_progress`), with or without an AniList link."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db import GuildDb
from app.errors import InvalidInputError, NotFoundError
from app.features.stats import sql_time
from app.features.text import shown
from app.services.anilist_models import Media
from app.shared.store import mark_dirty

STATUSES = ("CURRENT", "COMPLETED", "PAUSED", "DROPPED", "PLANNING", "REPEATING")
STATUS_WORDS = {"CURRENT": "reading", "COMPLETED": "completed", "PAUSED": "paused", "DROPPED": "dropped",
                "PLANNING": "planning", "REPEATING": "rereading"}
MAX_CHAPTER = 100_000
MAX_SCORE = 100  # AniList's POINT_100 format
TITLE_MAX = 200
AMBIGUOUS_SHOWN = 5  # candidates named when a title matches several entries


@dataclass(frozen=True, slots=True)
class Entry:
    manga_id: int
    title: str
    chapters_read: int
    status: str
    score: float | None


def parse_status(text: str | None) -> str | None:
    """The stored status a member's choice names: its value (`COMPLETED`) or the word shown (`completed`),
    in any case; anything else is returned unchanged for `check_values` to refuse."""
    if text is None:
        return None
    wanted = text.strip().casefold()
    for status, word in STATUS_WORDS.items():
        if wanted in (status.casefold(), word.casefold()):
            return status
    return text


def check_values(chapter: int, status: str | None, score: int | None) -> None:
    """Validate again what Discord validated (a client, or a changed command, may send anything).

    Raises:
        InvalidInputError: a value out of range.
    """
    if not 0 <= chapter <= MAX_CHAPTER:
        raise InvalidInputError(f"The chapter must be between 0 and {MAX_CHAPTER:,}.")
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"The status must be one of: {', '.join(STATUS_WORDS.values())}.")
    if score is not None and not 0 <= score <= MAX_SCORE:
        raise InvalidInputError(f"The score must be between 0 and {MAX_SCORE}.")


def check_entry(media: Media, chapter: int, status: str | None, score: int | None) -> None:
    """`check_values`, and a chapter within the manga's known count (a releasing one's is unknown: any).

    Raises:
        InvalidInputError: a value out of range, or a chapter beyond the manga's known count.
    """
    check_values(chapter, status, score)
    if media.chapters is not None and chapter > media.chapters:
        raise InvalidInputError(f"{shown(media.title)} has {media.chapters:,} chapters, so chapter "
                                f"{chapter:,} cannot be recorded.")


async def record_chapter(db: GuildDb, media: Media, user_id: int, display_name: str, chapter: int, *,
                         status: str | None = None, score: int | None = None, now: datetime | None = None) -> Entry:
    """Record that this member read `media` up to `chapter` in this server, at `now` (the bot's clock),
    and that they read on that day (`reading_days`, for Week Streak).

    Without a status, a new entry is "reading", or "completed" at the last known chapter;
    an existing one keeps its status. Raises what `check_entry` raises.
    """
    status = parse_status(status)
    check_entry(media, chapter, status, score)
    old = await fetch_entry(db, user_id, media.id)
    if status is None:
        finished = media.chapters is not None and chapter == media.chapters and chapter > 0
        status = "COMPLETED" if finished else (old.status if old else "CURRENT")
    kept_score = float(score) if score is not None else (old.score if old else None)
    title = media.title[:TITLE_MAX]
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    async with db.transaction():
        await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?) ON CONFLICT (discord_id) DO NOTHING",
                         (user_id, display_name))
        await db.execute(
            "INSERT INTO user_manga_progress (discord_id, manga_id, title, chapters_read, volumes_read, status, "
            "score, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (discord_id, manga_id) "
            "DO UPDATE SET title = excluded.title, chapters_read = excluded.chapters_read, status = excluded.status, "
            "score = excluded.score, updated_at = excluded.updated_at",
            (user_id, media.id, title, chapter, status, kept_score, sql_time(moment)))
        # the row above keeps only this manga's last update: Week Streak needs every day
        await db.execute("INSERT INTO reading_days (discord_id, day) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         (user_id, moment.date().isoformat()))
    mark_dirty(db, user_id)  # cross-server figures: published in the next batch, if shared
    return Entry(media.id, title, chapter, status, kept_score)


async def fetch_entry(db: GuildDb, user_id: int, manga_id: int) -> Entry | None:
    row = await db.execute_fetchone(
        "SELECT manga_id, title, chapters_read, status, score FROM user_manga_progress "
        "WHERE discord_id = ? AND manga_id = ?", (user_id, manga_id))
    return None if row is None else _entry(row)


async def list_entries(db: GuildDb, user_id: int, status: str | None = None) -> list[Entry]:
    """This member's entries in this server, most recently updated first.

    Raises:
        InvalidInputError: an unknown status.
    """
    status = parse_status(status)
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"The status must be one of: {', '.join(STATUS_WORDS.values())}.")
    rows = await db.execute_fetchall(
        "SELECT manga_id, title, chapters_read, status, score FROM user_manga_progress WHERE discord_id = ? "
        "AND (? IS NULL OR status = ?) ORDER BY updated_at DESC, manga_id", (user_id, status, status))
    return [_entry(r) for r in rows]


def matching(entries: list[Entry], text: str) -> list[Entry]:
    """Entries whose id is `text` or whose title contains it (case-insensitive), exact titles first."""
    needle = text.strip().casefold()
    hits = [e for e in entries if str(e.manga_id) == needle or needle in e.title.casefold()]
    return sorted(hits, key=lambda e: (e.title.casefold() != needle and str(e.manga_id) != needle, e.title))


async def remove_entry(db: GuildDb, user_id: int, title: str) -> Entry:
    """Remove one manga from this member's progress in this server.

    Raises:
        InvalidInputError: an empty title.
        NotFoundError: nothing of theirs matches, or several do and none exactly.
    """
    if not title.strip():
        raise InvalidInputError("Give the title of the manga to remove, as /manga list shows it.")
    found = matching(await list_entries(db, user_id), title)
    exact = [e for e in found if e.title.casefold() == title.strip().casefold() or str(e.manga_id) == title.strip()]
    if not found:
        raise NotFoundError(f"“{shown(title)}” is not among your manga in this server (see /manga list).")
    if len(found) > 1 and not exact:
        named = "; ".join(f"{shown(e.title, 60)} (id {e.manga_id})" for e in found[:AMBIGUOUS_SHOWN])
        more = f"; and {len(found) - AMBIGUOUS_SHOWN} more" if len(found) > AMBIGUOUS_SHOWN else ""
        raise NotFoundError(f"“{shown(title)}” matches more than one of your manga in this server: {named}{more}. "
                            "Give the full title as /manga list shows it, or the AniList id.")
    entry = (exact or found)[0]
    async with db.transaction():
        await db.execute("DELETE FROM user_manga_progress WHERE discord_id = ? AND manga_id = ?",
                         (user_id, entry.manga_id))
    mark_dirty(db, user_id)
    return entry


def describe(entry: Entry) -> str:
    """One line: title, chapter, status, score."""
    score = f", scored {entry.score:g}" if entry.score else ""
    return (f"**{shown(entry.title)}**: chapter {entry.chapters_read:,} "
            f"({STATUS_WORDS.get(entry.status, entry.status.lower())}{score})")


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(int(row["manga_id"]), str(row["title"] or f"AniList #{row['manga_id']}"), int(row["chapters_read"]),
                 str(row["status"] or "CURRENT"), row["score"])
