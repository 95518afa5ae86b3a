"""Erasure inside the files the split leaves beside the guild files: kept legacy copies and quarantine files.

They use the legacy schema, so they have their own subject map: which column holds a
row's guild (its rule), which columns name the member a row is about (subjects) and
which name them in someone else's row (counterparts). The legacy tables' entries are
fixed here; a table the operator mapped brings its subjects in its rule
(`--map T=guild:guild_id,subjects=user_id`). Quarantine files hold the same tables
(plus `_legacy_rowid` and `_reason`), so one map serves both.

Erasure runs with `secure_delete` on and ends with a `TRUNCATE` checkpoint: no erased
value stays in free pages or in a `-wal`.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.db.schema import own_tables
from app.legacy.collations import register_stand_ins
from app.legacy.rules import DEFAULT_RULES, Rule, find_name, folded, parse_rule, quote_name

_BUSY_MS = 5000


@dataclass(frozen=True, slots=True)
class LegacyPolicy:
    rule: Rule
    subject: tuple[str, ...] = ()
    counterpart: tuple[str, ...] = ()


_PEOPLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "invites": (("inviter_id",), ()),
    "invite_uses": (("joiner_id",), ("inviter_id",)),
    "recruitment_stats": (("inviter_id",), ()),
    "user_leaves": (("user_id",), ("inviter_id",)),
    "challenges": ((), ("created_by",)),
    "challenge_manga": ((), ()),
    "invite_tracker_settings": ((), ()),
    "manga_cache": ((), ()),
    "bot_settings": ((), ()),
}
_SUBJECT_IS_DISCORD_ID = ("users", "user_manga_progress", "achievements", "cached_stats", "user_xp",
                          "steam_users", "steam_games", "recommendations", "recommendation_feedback",
                          "user_preferences", "user_progress")
# rows that depend on a member's rows: other members' votes on a recommendation made for them
_DEPENDENTS = {"recommendations": ("recommendation_feedback", "recommendation_id", "id")}


def legacy_map(rules: Mapping[str, str] | None = None) -> dict[str, LegacyPolicy]:
    """The legacy subject map, with the operator's mapped tables (rules as a manifest records them)."""
    policies = {name: LegacyPolicy(DEFAULT_RULES[name], *_PEOPLE[name]) for name in _PEOPLE}
    policies |= {name: LegacyPolicy(DEFAULT_RULES[name], ("discord_id",)) for name in _SUBJECT_IS_DISCORD_ID}
    for recorded, text in (rules or {}).items():
        rule = parse_rule(text)
        name = find_name(policies, recorded) or recorded  # a manifest may spell a known table `Users`
        known = policies.get(name)
        if rule.subjects or known is None:
            policies[name] = LegacyPolicy(rule, rule.subjects)
        else:
            policies[name] = LegacyPolicy(rule, known.subject, known.counterpart)
    return policies


def policy_for(policies: Mapping[str, LegacyPolicy], table: str) -> LegacyPolicy | None:
    """The table's policy, its name matched as SQLite matches names (a legacy `Users` is `users`)."""
    name = find_name(policies, table)
    return None if name is None else policies[name]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows: a member (`user_id`), a guild (`guild_id`), or a member within one guild (both)."""

    user_id: int | None = None
    guild_id: int | None = None
    home_guild_id: int | None = None  # the guild that received the user-level tables


def _tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Every table's columns, folded: SQLite takes `Discord_ID` for `discord_id`."""
    return {n: {folded(r[1]) for r in conn.execute(f"PRAGMA table_info({quote_name(n)})")} for n in own_tables(conn)}


def _in_guild(policy: LegacyPolicy, scope: Scope, columns: set[str]) -> str | None:
    """The condition selecting the scope's guild in this table; None: no row of it is the guild's."""
    if scope.guild_id is None:
        return "1" if scope.user_id is not None else None
    rule = policy.rule
    if rule.kind == "guild" and rule.column and folded(rule.column) in columns:
        column = quote_name(rule.column)  # a REAL or text id is no guild's: never compared as a number
        return f"(typeof({column}) = 'integer' AND {column} = {int(scope.guild_id)})"
    if rule.kind == "home" and scope.guild_id == scope.home_guild_id:
        return "1"
    return None


def _statements(policy: LegacyPolicy, table: str, tables: Mapping[str, set[str]], scope: Scope) -> list[str]:
    columns = tables[table]
    where_guild = _in_guild(policy, scope, columns)
    if where_guild is None:
        return []
    q = quote_name(table)
    if scope.user_id is None:  # the whole guild's rows
        return [f"DELETE FROM {q} WHERE {where_guild}"]  # noqa: S608 (quoted identifiers, integer ids)
    user = int(scope.user_id)
    is_user = f"IN ({user}, '{user}')"  # untyped quarantine columns may hold the id as text
    out = [f"UPDATE {q} SET {quote_name(c)} = NULL WHERE {quote_name(c)} {is_user} AND {where_guild}"  # noqa: S608
           for c in policy.counterpart if folded(c) in columns]
    subjects = [c for c in policy.subject if folded(c) in columns]
    if subjects:
        who = " OR ".join(f"{quote_name(c)} {is_user}" for c in subjects)
        dependent = _DEPENDENTS.get(find_name(_DEPENDENTS, table) or "")  # a kept copy may spell it `Recommendations`
        if dependent and find_name(tables, dependent[0]):  # a quarantine file may hold the parent alone
            child, fk, key = dependent
            out.append(f"DELETE FROM {quote_name(child)} WHERE {quote_name(fk)} IN (SELECT {quote_name(key)} "  # noqa: S608
                       f"FROM {q} WHERE ({who}) AND {where_guild})")
        out.append(f"DELETE FROM {q} WHERE ({who}) AND {where_guild}")  # noqa: S608
    return out


def erase_in_file(path: Path, scope: Scope, policies: Mapping[str, LegacyPolicy]) -> int:
    """Erase the scope's rows in one legacy-schema file; returns the rows changed.

    Tables the map does not know are left alone (the split refused to place them without a rule).
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_MS / 1000)
    changed = 0
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = OFF")
        stand_ins = register_stand_ins(conn)  # the old bot's own collations, if it had any
        tables = _tables(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for index in stand_ins.droppable:  # ordered by a collation we lack: a delete may not find its entries
                conn.execute(f"DROP INDEX {quote_name(index)}")
            for table in sorted(tables):
                policy = policy_for(policies, table)
                if policy is None:
                    continue
                for sql in _statements(policy, table, tables, scope):
                    changed += conn.execute(sql).rowcount
            conn.execute("COMMIT" if changed else "ROLLBACK")  # nothing of the scope: the file stays as it was
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if changed:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return changed
