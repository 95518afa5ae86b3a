"""Writes to the shared store: consent given or withdrawn, figures published, rights applied.

Figures are only ever *updated* for consent rows that exist: a publish that raced with an opt-out,
an erasure or a deletion changes nothing, so nothing withdrawn comes back.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from app.db.checkpoint import checkpoint_truncate
from app.db.connection import Database, GuildDb
from app.errors import UserFacingError
from app.features.xp import level_for_xp
from app.shared.figures import MemberFigures, ServerFigures, fetch_figures
from app.shared.store import connect_store, mark_dirty, running_store

NAME_MAX = 32
NOT_SHARING = ("This server does not share its figures across servers, so there is nothing to join here; "
               "an admin can turn sharing on with /server-data sharing on.")


def clean_name(text: str, limit: int = NAME_MAX) -> str:
    """A display name as stored: printable characters only, trimmed, bounded (escaped again when shown)."""
    clean = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    return clean[:limit]


def stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _server_values(figures: ServerFigures) -> tuple[int, int, int, str, int]:
    return (figures.members, figures.chapters_month, figures.chapters_total,
            json.dumps([list(g) for g in figures.top_genres], ensure_ascii=False), figures.active_challenges)


def _recompute(conn: sqlite3.Connection, user_ids: Iterable[int], now: str) -> None:
    """Members' totals from their joins; a member with no join left has no published row."""
    for user_id in set(user_ids):
        chapters, xp, achievements, joins = conn.execute(
            "SELECT COALESCE(SUM(chapters), 0), COALESCE(SUM(xp), 0), COALESCE(SUM(achievements), 0), COUNT(*) "
            "FROM member_joins WHERE user_id = ?", (user_id,)).fetchone()
        if not joins:
            conn.execute("DELETE FROM members WHERE user_id = ?", (user_id,))
            continue
        conn.execute("UPDATE members SET chapters = ?, xp = ?, level = ?, achievements = ?, updated_at = ? "
                     "WHERE user_id = ?", (chapters, xp, level_for_xp(xp), achievements, now, user_id))


async def share_server(store: Database, guild_id: int, name: str, *, allow_compare: bool,
                       figures: ServerFigures, now: datetime) -> None:
    """Sharing on (or its settings changed): the server's row, with its figures now."""
    async with store.transaction():
        await store.execute(
            "INSERT INTO servers (guild_id, name, allow_compare, members, chapters_month, chapters_total, "
            "top_genres, active_challenges, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name, allow_compare = excluded.allow_compare, "
            "members = excluded.members, chapters_month = excluded.chapters_month, "
            "chapters_total = excluded.chapters_total, top_genres = excluded.top_genres, "
            "active_challenges = excluded.active_challenges, updated_at = excluded.updated_at",
            (guild_id, clean_name(name, 100) or str(guild_id), int(allow_compare), *_server_values(figures),
             stamp(now)))


def _withdraw(conn: sqlite3.Connection, guild_id: int, now: str) -> int:
    members = [r[0] for r in conn.execute("SELECT user_id FROM member_joins WHERE guild_id = ?", (guild_id,))]
    conn.execute("DELETE FROM member_joins WHERE guild_id = ?", (guild_id,))
    removed = conn.execute("DELETE FROM servers WHERE guild_id = ?", (guild_id,)).rowcount
    _recompute(conn, members, now)
    return removed


async def withdraw_server(store: Database, guild_id: int, now: datetime) -> bool:
    """Sharing off: the server's row, its members' joins there and their contribution to totals go at once."""
    async with store.transaction():
        removed = await store.run(lambda conn: _withdraw(conn, guild_id, stamp(now)))
    if removed:  # frames written before the withdrawal still hold its values (secure_delete clears the file's
        # freed space); a reader in another process may keep it from finishing: the next one or the last close retries
        await store.run(checkpoint_truncate)
    return bool(removed)


def _join(conn: sqlite3.Connection, guild_id: int, user_id: int, name: str, keep_name: bool,
          figures: MemberFigures, now: str) -> str:
    if conn.execute("SELECT 1 FROM servers WHERE guild_id = ?", (guild_id,)).fetchone() is None:
        raise UserFacingError(NOT_SHARING)
    conn.execute("INSERT INTO members (user_id, display_name, updated_at) VALUES (?, ?, ?) ON CONFLICT (user_id) "
                 "DO UPDATE SET display_name = CASE WHEN ? THEN display_name ELSE excluded.display_name END",
                 (user_id, name, now, keep_name))
    conn.execute("INSERT INTO member_joins (user_id, guild_id, chapters, xp, achievements) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT (user_id, guild_id) DO UPDATE SET chapters = excluded.chapters, xp = excluded.xp, "
                 "achievements = excluded.achievements",
                 (user_id, guild_id, figures.chapters, figures.xp, figures.achievements))
    _recompute(conn, [user_id], now)
    return str(conn.execute("SELECT display_name FROM members WHERE user_id = ?", (user_id,)).fetchone()[0])


async def join_member(store: Database, guild_id: int, user_id: int, display_name: str | None, username: str,
                      figures: MemberFigures, now: datetime) -> str:
    """The member publishes their figures of this server under `display_name` (their name everywhere).

    Without a display name, the one chosen before stays (else their username). Returns the name shown.

    Raises:
        UserFacingError: this server does not share.
    """
    name = clean_name(display_name or username) or str(user_id)
    async with store.transaction():
        return await store.run(lambda conn: _join(conn, guild_id, user_id, name, display_name is None, figures,
                                                  stamp(now)))


def _forget(conn: sqlite3.Connection, user_id: int) -> int:
    conn.execute("DELETE FROM member_joins WHERE user_id = ?", (user_id,))
    return int(conn.execute("DELETE FROM members WHERE user_id = ?", (user_id,)).rowcount)


async def leave_member(store: Database, user_id: int) -> bool:
    """`/global leave`, an erasure: the member's published row and every join go at once."""
    async with store.transaction():
        removed = await store.run(lambda conn: _forget(conn, user_id))
    if removed:
        await store.run(checkpoint_truncate)
    return bool(removed)


def _update(conn: sqlite3.Connection, guild_id: int, server: ServerFigures | None,
            members: dict[int, MemberFigures], now: str) -> None:
    if server is not None:
        conn.execute("UPDATE servers SET members = ?, chapters_month = ?, chapters_total = ?, top_genres = ?, "
                     "active_challenges = ?, updated_at = ? WHERE guild_id = ?",
                     (*_server_values(server), now, guild_id))
    changed = []
    for user_id, f in members.items():
        if conn.execute("UPDATE member_joins SET chapters = ?, xp = ?, achievements = ? WHERE user_id = ? "
                        "AND guild_id = ?", (f.chapters, f.xp, f.achievements, user_id, guild_id)).rowcount:
            changed.append(user_id)
    _recompute(conn, changed, now)


async def publish_figures(store: Database, guild_id: int, server: ServerFigures | None,
                          members: dict[int, MemberFigures], now: datetime) -> None:
    """New figures of a sharing server and of its joined members (rows that are gone stay gone)."""
    async with store.transaction():
        await store.run(lambda conn: _update(conn, guild_id, server, members, stamp(now)))


async def list_joined(store: Database, guild_id: int, user_ids: Iterable[int] | None = None) -> list[int]:
    """Members who joined in this server (all, or those among `user_ids`)."""
    rows = await store.execute_fetchall("SELECT user_id FROM member_joins WHERE guild_id = ? ORDER BY user_id",
                                        (guild_id,))
    joined = [int(r[0]) for r in rows]
    return joined if user_ids is None else sorted(set(joined) & set(user_ids))


# -- the rights paths: one call each, from app/rights (a store of their own: the CLI has no bot) --------

async def forget_published_member(root: Path, user_id: int) -> bool:
    """Erasure (`user forget`, `/my-data delete`): the member's published row and joins, at once."""
    async with connect_store(root) as store:
        return store is not None and await leave_member(store, user_id)


async def republish_server_after_erasure(db: GuildDb, now: datetime) -> bool:
    """Erasure of a member's rows in a sharing server: the server's published totals, recomputed without them
    at once (they added the member's chapters, AniList link and genres), and checkpointed like a withdrawal."""
    async with connect_store(db.path.parent) as store:
        if store is None or await store.execute_fetchone("SELECT 1 FROM servers WHERE guild_id = ?",
                                                         (db.guild_id,)) is None:
            return False
        server, _ = await fetch_figures(db, now, [])
        await publish_figures(store, db.guild_id, server, {}, now)
        await store.run(checkpoint_truncate)
    mark_dirty(db)  # a running bot's next round recomputes them on its own clock
    return True


async def forget_published_server(root: Path, guild_id: int, now: datetime) -> bool:
    """Deletion and the retention purge: the server's row and its contribution to members' totals."""
    running = running_store(root)
    if running is not None:
        running.sharing.discard(guild_id)
        running.pending.pop(guild_id, None)
    async with connect_store(root) as store:
        return store is not None and await withdraw_server(store, guild_id, now)


async def fetch_published_member(root: Path, user_id: int) -> dict[str, object] | None:
    """For the member's export: their published row and the figures each server contributes."""
    async with connect_store(root) as store:
        if store is None:
            return None
        row = await store.execute_fetchone(
            "SELECT display_name, chapters, xp, level, achievements, updated_at FROM members WHERE user_id = ?",
            (user_id,))
        if row is None:
            return None
        joins = await store.execute_fetchall(
            "SELECT guild_id, chapters, xp, achievements FROM member_joins WHERE user_id = ? ORDER BY guild_id",
            (user_id,))
    return {**dict(row), "from_servers": [dict(j) for j in joins]}
