"""What `/global` and `/server compare` show: read from the shared store alone, indexed."""
from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from app.db.connection import Database
from app.errors import NotFoundError, UserFacingError
from app.features.leaderboard import Kind
from app.shared.figures import TOP_GENRES

MAX_LISTED = 250
_COLUMN = {Kind.CHAPTERS: "chapters", Kind.XP: "xp", Kind.ACHIEVEMENTS: "achievements"}
NOT_SHARING_HERE = ("This server does not share its figures, so it cannot be compared; an admin can turn "
                    "sharing on with /server-data sharing on.")


@dataclass(frozen=True, slots=True)
class GlobalEntry:
    rank: int
    user_id: int
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class GlobalBoard:
    kind: Kind
    entries: list[GlobalEntry]
    ranked: int
    own: GlobalEntry | None


async def fetch_global_board(store: Database, kind: Kind, user_id: int, *, limit: int = MAX_LISTED) -> GlobalBoard:
    """The top `limit` consenting members for `kind` (the top of an index), how many, and the caller's rank."""
    column = _COLUMN[kind]
    rows = await store.execute_fetchall(
        f"SELECT user_id, display_name, {column} FROM members WHERE {column} > 0 "  # noqa: S608 (fixed names)
        f"ORDER BY {column} DESC, user_id LIMIT ?", (limit,))
    summary = await store.execute_fetchone(
        f"SELECT (SELECT COUNT(*) FROM members WHERE {column} > 0), mine.display_name, mine.{column}, "  # noqa: S608
        f"(SELECT COUNT(*) FROM members WHERE {column} > mine.{column}) + 1 "
        f"FROM (SELECT 1) LEFT JOIN members AS mine ON mine.user_id = ? AND mine.{column} > 0", (user_id,))
    ranked, own_name, own_value, own_rank = summary if summary else (0, None, None, None)
    entries: list[GlobalEntry] = []
    for position, (member, name, value) in enumerate(rows, start=1):
        rank = entries[-1].rank if entries and entries[-1].value == value else position
        entries.append(GlobalEntry(rank, int(member), str(name), int(value)))
    own = None if own_value is None else GlobalEntry(int(own_rank or 0), user_id, str(own_name), int(own_value))
    return GlobalBoard(kind, entries, int(ranked), own)


@dataclass(frozen=True, slots=True)
class GlobalStats:
    servers: int
    linked_members: int
    published_members: int
    chapters_total: int
    chapters_month: int
    top_genres: list[tuple[str, int]]


def _genres(texts: list[str]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for text in texts:
        for genre, n in json.loads(text):
            counts[str(genre)] += int(n)
    return sorted(counts.items(), key=lambda g: (-g[1], g[0]))[:TOP_GENRES]


async def fetch_global_stats(store: Database) -> GlobalStats:
    """Totals over the sharing servers."""
    row = await store.execute_fetchone(
        "SELECT COUNT(*), COALESCE(SUM(members), 0), COALESCE(SUM(chapters_total), 0), "
        "COALESCE(SUM(chapters_month), 0), (SELECT COUNT(*) FROM members) FROM servers")
    genres = await store.execute_fetchall("SELECT top_genres FROM servers WHERE top_genres != '[]'")
    servers, linked, total, month, published = row if row else (0, 0, 0, 0, 0)
    return GlobalStats(int(servers), int(linked), int(published), int(total), int(month),
                       _genres([g[0] for g in genres]))


@dataclass(frozen=True, slots=True)
class ServerSide:
    label: str
    members: float
    chapters_month: float
    chapters_total: float
    active_challenges: float
    top_genres: list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class Comparison:
    mine: ServerSide
    other: ServerSide
    servers: int  # sharing servers now


_FIGURES = "name, members, chapters_month, chapters_total, active_challenges, top_genres"


def _side(row: Any, label: str | None = None) -> ServerSide:
    name, members, month, total, challenges, genres = row
    return ServerSide(label or str(name), members, month, total, challenges, _genres([genres]))


async def _median(store: Database) -> ServerSide:
    rows = await store.execute_fetchall("SELECT members, chapters_month, chapters_total, active_challenges "
                                        "FROM servers")
    columns = list(zip(*rows, strict=True)) if rows else [(0,)] * 4
    members, month, total, challenges = (statistics.median(c) for c in columns)
    return ServerSide("Median of sharing servers", members, month, total, challenges, [])


async def _named(store: Database, guild_id: int, other: str) -> ServerSide:
    """Raises:
        NotFoundError: no sharing server that allows comparisons has this name (or id), or several do.
    """
    wanted = other.strip()
    rows = await store.execute_fetchall(
        f"SELECT guild_id, {_FIGURES} FROM servers WHERE allow_compare = 1 AND guild_id != ? "  # noqa: S608
        "AND (name = ? COLLATE NOCASE OR CAST(guild_id AS TEXT) = ?) LIMIT 2", (guild_id, wanted, wanted))
    if not rows:
        raise NotFoundError("No sharing server that allows comparisons goes by that name; check the spelling, "
                            "or compare with the median by leaving `other` empty.")
    if len(rows) > 1:
        raise NotFoundError("Several sharing servers go by that name; give the server's id instead.")
    return _side(tuple(rows[0])[1:])


async def fetch_comparison(store: Database, guild_id: int, other: str | None) -> Comparison:
    """This server against the median of sharing servers, or a named one that allows it.

    Raises:
        UserFacingError: this server does not share.
        NotFoundError: the named server is not sharing, does not allow it, or is ambiguous.
    """
    mine = await store.execute_fetchone(f"SELECT {_FIGURES} FROM servers WHERE guild_id = ?",  # noqa: S608
                                        (guild_id,))
    if mine is None:
        raise UserFacingError(NOT_SHARING_HERE)
    theirs = await (_named(store, guild_id, other) if other and other.strip() else _median(store))
    count = await store.execute_fetchone("SELECT COUNT(*) FROM servers")
    return Comparison(_side(mine, "This server"), theirs, int(count[0]) if count else 0)


async def fetch_sharing_status(store: Database, guild_id: int) -> tuple[Any, int]:
    """This server's published row (or None) and how many of its members joined."""
    row = await store.execute_fetchone(f"SELECT allow_compare, updated_at, {_FIGURES} FROM servers "  # noqa: S608
                                       "WHERE guild_id = ?", (guild_id,))
    joined = await store.execute_fetchone("SELECT COUNT(*) FROM member_joins WHERE guild_id = ?", (guild_id,))
    return row, int(joined[0]) if joined else 0
