"""Erasure and deletion reach the split's leftovers too: kept legacy copies and quarantine files.

Until the kept copies are retired (`LEGACY_KEEP_DAYS`), they hold every member and
every guild of the legacy bot; the quarantine files hold the rows no guild file took.
A member's erasure or a guild's deletion erases the same subject there, so nothing
of them survives on disk; the result names every file changed.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from app.errors import GuildDatabaseError
from app.legacy.erasure import LegacyPolicy, Scope, erase_in_file, legacy_map, policy_for
from app.legacy.kept import holding_data, list_quarantine, split_record
from app.legacy.rules import folded
from app.rights.atomic import atomic_output
from app.rights.export_json import iter_rows, list_tables, quote_identifier


def _context(root: Path) -> tuple[dict[str, LegacyPolicy], int | None]:
    record = split_record(root) or {}
    return legacy_map(record.get("rules")), record.get("home_guild_id")


def erase_from_copies(root: Path, *, user_id: int | None = None, guild_id: int | None = None) -> dict[str, int]:
    """Erase a member (everywhere, or in one guild) or a whole guild from every kept file; rows per file changed.

    Raises:
        GuildDatabaseError: a kept file could not be changed (the others were).
    """
    policies, home = _context(root)
    scope = Scope(user_id=user_id, guild_id=guild_id, home_guild_id=home)
    changed: dict[str, int] = {}
    failed: list[str] = []
    for kept in holding_data(root):
        try:
            n = erase_in_file(kept.path, scope, policies)
        except sqlite3.Error as error:
            failed.append(f"{kept.path.name} ({error})")
            continue
        if n:
            changed[str(kept.path)] = n
    if failed:
        raise GuildDatabaseError("could not erase from kept legacy file(s): " + "; ".join(failed))
    return changed


async def erase_from_copies_async(root: Path, *, user_id: int | None = None,
                                  guild_id: int | None = None) -> dict[str, int]:
    """`erase_from_copies` on a thread (the bot's event loop keeps serving)."""
    return await asyncio.to_thread(erase_from_copies, root, user_id=user_id, guild_id=guild_id)


def quarantined_rows_of(root: Path, user_id: int) -> dict[str, Any]:
    """The member's rows in the split's quarantine files, by file and table (for a member export)."""
    policies, _ = _context(root)
    found: dict[str, Any] = {}
    for kept in list_quarantine(root):
        conn = sqlite3.connect(f"{kept.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA trusted_schema = OFF")
            tables: dict[str, list[dict[str, Any]]] = {}
            for table in list_tables(conn):
                policy = policy_for(policies, table)
                columns = {folded(r[1]) for r in conn.execute(f"PRAGMA table_info({quote_identifier(table)})")}
                subjects = [c for c in (policy.subject if policy else ()) if folded(c) in columns]
                if not subjects:
                    continue
                # untyped quarantine columns may hold the id as text
                where = " OR ".join(f"{quote_identifier(c)} IN (?, ?)" for c in subjects)
                query = f"SELECT * FROM {quote_identifier(table)} WHERE {where}"  # noqa: S608
                rows = list(iter_rows(conn, table, query, (user_id, str(user_id)) * len(subjects))[1])
                if rows:
                    tables[table] = rows
        finally:
            conn.close()
        if tables:
            found[kept.path.name] = tables
    return found


def write_quarantine_export(root: Path, user_id: int, target: Path) -> int:
    """Write the member's quarantined rows to `target` if there are any; returns the row count."""
    found = quarantined_rows_of(root, user_id)
    rows = sum(len(r) for tables in found.values() for r in tables.values())
    if rows:
        with atomic_output(target, overwrite=True) as tmp:
            tmp.write_text(json.dumps({"user_id": user_id, "quarantine_files": found,
                                       "note": "rows of the legacy database the split could not place in a "
                                               "server's file, kept aside as they were"},
                                      indent=2, ensure_ascii=False), encoding="utf-8")
    else:
        target.unlink(missing_ok=True)
    return rows
