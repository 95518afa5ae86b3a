"""One member's rows in one guild: export them, or erase them (one transaction).

Rows where the member is the subject are deleted, along with rows of other
tables that depend on them by foreign key (feedback on a recommendation made
for the member); where the member is only someone else's counterpart, the
reference is set to a neutral value and the other member's row stays.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from app.db.checkpoint import checkpoint_truncate
from app.db.connection import GuildDb
from app.rights.export_json import iter_rows, list_tables, quote_identifier
from app.rights.subjects import TablePolicy, ensure_covered, mapped_policies, table_columns
from app.shared.publish import fetch_published_member, forget_published_member, republish_server_after_erasure

log = logging.getLogger(__name__)

Action = Literal["delete", "neutralize"]
_MAX_DEPTH = 8  # foreign-key chains deeper than this mean a cycle
CHECKPOINT_WAIT_S = 10.0  # how long an erasure waits for readers of older snapshots (an export) to finish
_CHECKPOINT_FIRST_WAIT_S = 0.05


@dataclass(frozen=True, slots=True)
class Step:
    table: str
    action: Action
    sql: str
    placeholders: int


@dataclass(frozen=True, slots=True)
class MemberErasure:
    guild_id: int
    user_id: int
    deleted: dict[str, int] = field(default_factory=dict)
    neutralized: dict[str, int] = field(default_factory=dict)
    published: bool = False  # the member's cross-server row (and every join) was withdrawn by this erasure

    @property
    def rows_deleted(self) -> int:
        return sum(self.deleted.values())

    @property
    def rows_changed(self) -> int:
        return self.rows_deleted + sum(self.neutralized.values())

    @property
    def changed_anything(self) -> bool:
        """Something was erased: the receipt's condition (a withdrawn cross-server row counts)."""
        return bool(self.rows_changed) or self.published

    def receipt_note(self) -> str:
        """What the receipt's reason adds to the request's own words."""
        neutralized = self.rows_changed - self.rows_deleted
        notes = [f"{neutralized} reference(s) neutralized"] if neutralized else []
        if self.published:
            notes.append("published cross-server row withdrawn")
        return "".join(f"; {n}" for n in notes)

    def as_dict(self) -> dict[str, object]:
        return {"guild_id": self.guild_id, "user_id": self.user_id, "rows_deleted": self.rows_deleted,
                "rows_neutralized": sum(self.neutralized.values()), "deleted": self.deleted,
                "neutralized": self.neutralized, "published_row_removed": self.published}


def _where(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"{quote_identifier(c)} = ?" for c in columns)


def _children(conn: sqlite3.Connection, parent: str) -> list[tuple[str, list[str], list[str]]]:
    """(child table, child columns, parent columns) of every foreign key pointing at `parent`."""
    found = []
    for child in list_tables(conn):
        keys: dict[int, tuple[list[str], list[str]]] = {}
        for row in conn.execute(f"PRAGMA foreign_key_list({quote_identifier(child)})"):
            if row[2] == parent:
                cols = keys.setdefault(row[0], ([], []))
                cols[0].append(row[3])
                cols[1].append(row[4] or _primary_key(conn, parent)[len(cols[1])])
        found += [(child, froms, tos) for froms, tos in keys.values()]
    return found


def _primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = conn.execute(f"PRAGMA table_info({quote_identifier(table)})").fetchall()
    return [r[1] for r in sorted(rows, key=lambda r: r[5]) if r[5]] or ["rowid"]


def _deletes(conn: sqlite3.Connection, table: str, where: str, n: int, depth: int = 0) -> list[Step]:
    """Delete the rows of `table` matching `where`, rows that depend on them first."""
    if depth > _MAX_DEPTH:
        raise RecursionError(f"foreign keys from {table} form a cycle")
    steps: list[Step] = []
    for child, froms, tos in _children(conn, table):
        inner = (f"({', '.join(map(quote_identifier, froms))}) IN (SELECT "  # noqa: S608
                 f"{', '.join(map(quote_identifier, tos))} FROM {quote_identifier(table)} WHERE {where})")
        steps += _deletes(conn, child, inner, n, depth + 1)
    steps.append(Step(table, "delete", f"DELETE FROM {quote_identifier(table)} WHERE {where}", n))  # noqa: S608
    return steps


def plan_erasure(conn: sqlite3.Connection, extra: Mapping[str, TablePolicy] | None = None) -> list[Step]:
    """The statements that erase one member (each takes the member's id for every placeholder).

    `extra`: policies of tables the legacy split created (`mapped_policies`).

    Raises:
        GuildDatabaseError: the file's schema is not fully covered by the subject map.
    """
    policies = ensure_covered(conn, extra)
    steps: list[Step] = []
    for table in list_tables(conn):
        policy = policies[table]
        not_null = table_columns(conn, table)
        for column in policy.counterpart:
            neutral = "0" if not_null[column] else "NULL"
            name = quote_identifier(column)
            steps.append(Step(table, "neutralize", f"UPDATE {quote_identifier(table)} SET "  # noqa: S608
                              f"{name} = {neutral} WHERE {name} = ?", 1))
        if policy.subject:
            steps += _deletes(conn, table, _where(policy.subject), len(policy.subject))
    return steps


async def erase_member(db: GuildDb, user_id: int) -> MemberErasure:
    """Erase the member's rows in this guild, in one transaction (all or nothing).

    Raises:
        GuildDatabaseError: the file's schema is not fully covered by the subject map.
    """
    deleted: dict[str, int] = {}
    neutralized: dict[str, int] = {}
    if not db.is_copy:  # a guild never written holds no one's rows: no file is built to erase nothing
        await _erase_rows(db, user_id, deleted, neutralized)
    if deleted or neutralized:  # the server's published totals added the member's figures
        await republish_server_after_erasure(db, datetime.now(UTC))
    published = await forget_published_member(db.path.parent, user_id)  # the cross-server row too, at once
    return MemberErasure(db.guild_id, user_id, deleted, neutralized, published)


async def _erase_rows(db: GuildDb, user_id: int, deleted: dict[str, int], neutralized: dict[str, int]) -> None:
    extra = mapped_policies(db.path.parent)
    steps = await db.run(lambda conn: plan_erasure(conn, extra))
    # erased values must not linger in free pages (secure_delete) nor in the -wal (the checkpoint)
    await db.run(lambda conn: conn.execute("PRAGMA secure_delete = ON").fetchall())
    async with db.transaction():
        for step in steps:
            result = await db.execute(step.sql, (user_id,) * step.placeholders)
            counts = deleted if step.action == "delete" else neutralized
            if result.rowcount > 0:
                counts[step.table] = counts.get(step.table, 0) + result.rowcount
    if deleted or neutralized:
        await fold_wal(db)


async def fold_wal(db: GuildDb) -> None:
    """Checkpoint until the erased values are in neither the -wal nor the file's old pages.

    A reader of an older snapshot (an export running, a replica, another process) keeps the
    checkpoint from finishing; it is tried again, from the event loop, until that reader is done.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CHECKPOINT_WAIT_S
    wait = _CHECKPOINT_FIRST_WAIT_S
    while not await db.run(checkpoint_truncate):
        if loop.time() >= deadline:
            log.warning("erasure in guild %s: a reader kept the -wal from being emptied for %.0f s; erased "
                        "values stay in it until a later checkpoint", db.guild_id, CHECKPOINT_WAIT_S)
            return
        await asyncio.sleep(wait)
        wait = min(wait * 2, 1.0)


def collect_member_rows(conn: sqlite3.Connection, user_id: int,
                        extra: Mapping[str, TablePolicy] | None = None) -> dict[str, Any]:
    """The member's own rows (every table where they are the subject), and where they are mentioned."""
    policies = ensure_covered(conn, extra)
    tables: dict[str, list[dict[str, Any]]] = {}
    mentions: dict[str, int] = {}
    conn.execute("BEGIN")  # one snapshot across tables
    try:
        for table in list_tables(conn):
            policy = policies[table]
            if policy.subject:
                query = f"SELECT * FROM {quote_identifier(table)} WHERE {_where(policy.subject)}"  # noqa: S608
                _, rows = iter_rows(conn, table, query, (user_id,) * len(policy.subject))
                found = list(rows)
                if found:
                    tables[table] = found
            for column in policy.counterpart:
                n = conn.execute(f"SELECT COUNT(*) FROM {quote_identifier(table)} "  # noqa: S608
                                 f"WHERE {quote_identifier(column)} = ?", (user_id,)).fetchone()[0]
                if n:
                    mentions[f"{table}.{column}"] = n
    finally:
        conn.execute("COMMIT")
    return {"tables": tables, "mentioned_as_counterpart": mentions}


async def export_member(db: GuildDb, user_id: int) -> dict[str, Any]:
    """The member's data in this guild as a JSON-ready dict."""
    extra = mapped_policies(db.path.parent)
    found = await db.run(lambda conn: collect_member_rows(conn, user_id, extra))
    return {"guild_id": db.guild_id, "user_id": user_id,
            "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rows": sum(len(rows) for rows in found["tables"].values()), **found,
            "published_across_servers": await fetch_published_member(db.path.parent, user_id),
            "note": "mentioned_as_counterpart counts rows of other members that name you (for example "
                    "as their inviter); erasure replaces those references with an empty value."}
