"""The subject map: for every guild table, which columns name the member a row is about.

`subject` columns: the row is that member's (exported, and erased on request).
`counterpart` columns: the member appears in someone else's row (the inviter of
another member's join): on erasure the reference becomes NULL (0 if the column
is NOT NULL) and the other member's row stays.
`not_person` columns: id-like columns that name no Discord member (a channel,
a manga, an AniList or Steam account inside the member's own row).

A table missing from the map, or an id-like column in no list, is refused at
run time (`check_against`) and by the tests: a table added later cannot be forgotten.
"""
from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.errors import GuildDatabaseError
from app.legacy.manifest import manifest_path, read_json
from app.legacy.rules import looks_like_person, parse_rule
from app.rights.export_json import list_tables, quote_identifier


@dataclass(frozen=True, slots=True)
class TablePolicy:
    subject: tuple[str, ...] = ()
    counterpart: tuple[str, ...] = ()
    not_person: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.subject + self.counterpart + self.not_person


SUBJECT_MAP: dict[str, TablePolicy] = {
    # the file's own identity: no person
    "guild_meta": TablePolicy(not_person=("guild_id",)),
    # invite tracker
    "invites": TablePolicy(subject=("inviter_id",), not_person=("channel_id",)),
    "invite_uses": TablePolicy(subject=("joiner_id",), counterpart=("inviter_id",)),
    "recruitment_stats": TablePolicy(subject=("inviter_id",)),
    "user_leaves": TablePolicy(subject=("user_id",), counterpart=("inviter_id",)),
    "invite_tracker_settings": TablePolicy(not_person=("log_channel_id",)),
    # members and reading
    "users": TablePolicy(subject=("discord_id",), not_person=("anilist_id",)),
    "user_manga_progress": TablePolicy(subject=("discord_id",), not_person=("manga_id",)),
    "reading_days": TablePolicy(subject=("discord_id",)),
    "achievements": TablePolicy(subject=("discord_id",)),
    "cached_stats": TablePolicy(subject=("discord_id",)),
    "user_xp": TablePolicy(subject=("discord_id",)),
    "steam_users": TablePolicy(subject=("discord_id",), not_person=("steam_id",)),
    "steam_games": TablePolicy(subject=("discord_id",), not_person=("app_id",)),
    "recommendations": TablePolicy(subject=("discord_id",), not_person=("manga_id",)),
    "recommendation_feedback": TablePolicy(subject=("discord_id",), not_person=("recommendation_id",)),
    "user_preferences": TablePolicy(subject=("discord_id",)),
    # challenges: created by a member, shared by the server
    "challenges": TablePolicy(counterpart=("created_by",), not_person=("challenge_id",)),
    "challenge_manga": TablePolicy(not_person=("challenge_id", "manga_id")),
    "user_progress": TablePolicy(subject=("discord_id",), not_person=("challenge_id", "manga_id")),
    # server settings: the admin who last changed one is a counterpart
    "guild_settings": TablePolicy(counterpart=("updated_by",)),
}




def table_columns(conn: sqlite3.Connection, table: str) -> dict[str, bool]:
    """Column name → NOT NULL, for one table."""
    return {r[1]: bool(r[3]) for r in conn.execute(f"PRAGMA table_info({quote_identifier(table)})")}


def mapped_policies(root: Path) -> dict[str, TablePolicy]:
    """Policies of the tables the legacy split created in the guild files of `root` (operator `--map` rules).

    A rule names its subject columns (`subjects=`); the table's other person-like columns were
    declared not to name a member by that rule.
    """
    path = manifest_path(root)
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    return dict(_policies_from(path, st.st_mtime_ns, st.st_size))  # a copy: callers may not touch the cache


@functools.lru_cache(maxsize=8)
def _policies_from(path: Path, _mtime_ns: int, _size: int) -> dict[str, TablePolicy]:
    """Read once per version of the manifest (it can be large; erasure runs on the event loop)."""
    record = read_json(path) or {}
    created = record.get("created_tables") or {}
    out: dict[str, TablePolicy] = {}
    for table, text in (record.get("rules") or {}).items():
        rule = parse_rule(text)
        if table in created and rule.kind in ("guild", "home"):
            others = tuple(c for c in created[table] if looks_like_person(c) and c not in rule.subjects)
            out[table] = TablePolicy(subject=rule.subjects, not_person=others)
    return out


def check_against(conn: sqlite3.Connection, extra: Mapping[str, TablePolicy] | None = None) -> list[str]:
    """Problems of the map against a database's schema (empty when every table and column is covered)."""
    problems = []
    tables = list_tables(conn)
    policies = {**SUBJECT_MAP, **(extra or {})}
    for table in tables:
        policy = policies.get(table)
        if policy is None:
            problems.append(f"table {table} is not in the subject map")
            continue
        columns = table_columns(conn, table)
        problems += [f"{table}.{c} is in the map but not in the table" for c in policy.columns
                     if c not in columns]
        problems += [f"{table}.{c} looks like a person but is not classified" for c in columns
                     if looks_like_person(c) and c not in policy.columns]
    problems += [f"table {t} is in the map but not in the schema" for t in SUBJECT_MAP if t not in tables]
    return problems


def ensure_covered(conn: sqlite3.Connection, extra: Mapping[str, TablePolicy] | None = None
                   ) -> dict[str, TablePolicy]:
    """Refuse to export or erase a member from a file the map does not fully cover; returns the map.

    Raises:
        GuildDatabaseError: the schema has a table or a person column the map does not classify.
    """
    problems = [p for p in check_against(conn, extra) if "not in the schema" not in p]
    if problems:
        raise GuildDatabaseError("the data-rights subject map is incomplete: " + "; ".join(problems))
    return {**SUBJECT_MAP, **(extra or {})}
