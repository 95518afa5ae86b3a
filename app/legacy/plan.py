"""The plan of a split: every legacy table, its rule, its columns and where its rows go."""
from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.db.ids import parse_guild_id, validate_guild_id
from app.db.schema import BOT_SCHEMA, GUILD_SCHEMA, Schema, own_tables
from app.errors import InvalidGuildIdError, LegacySplitError, UnknownLegacyTablesError
from app.legacy.rules import (
    DEFAULT_RULES,
    MAP_SYNTAX,
    PERSON_WORDS,
    Rule,
    find_name,
    folded,
    looks_like_person,
    quote_name,
)

# a row belongs to a guild only if its id is a snowflake: an integer, 0 < id < 2**63
VALID_ID = "(typeof({col}) = 'integer' AND {col} > 0)"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    decl_type: str


@dataclass(slots=True)
class TablePlan:
    """One legacy table: its rule, the columns copied and its row counts."""

    name: str
    rule: Rule
    columns: tuple[str, ...]  # legacy columns copied (the guild column of a guild rule excluded)
    legacy_columns: tuple[Column, ...]  # every legacy column, as declared
    dest_exists: bool  # the destination schema has this table; else it is created, untyped
    added: tuple[Column, ...] = ()  # legacy columns its destination table lacks: added to it in the files
    read: int = 0
    per_guild: dict[int, int] = field(default_factory=dict)
    invalid_guild: int = 0  # guild rules: rows whose guild id is not a snowflake

    @property
    def valid_filter(self) -> str:
        return VALID_ID.format(col=quote_name(self.rule.column or ""))


@dataclass(slots=True)
class Plan:
    tables: dict[str, TablePlan]
    home_guild_id: int | None
    unknown: dict[str, tuple[Column, ...]] = field(default_factory=dict)
    problems: list[LegacySplitError] = field(default_factory=list)  # each stops the split

    def check(self) -> None:
        """Raises: LegacySplitError (UnknownLegacyTablesError if tables are unknown): every problem, in one message.

        All of them at once: an operator who fixes one should not have to run again to hear of the next.
        """
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            message = (f"{len(self.problems)} problems stop the split, so nothing was written: "
                       + " ".join(f"({n}) {p.user_message}" for n, p in enumerate(self.problems, 1)))
            unknown = [p.tables for p in self.problems if isinstance(p, UnknownLegacyTablesError)]
            raise UnknownLegacyTablesError(message, tables=unknown[0]) if unknown else LegacySplitError(message)

    def destinations(self) -> dict[int, dict[str, int]]:
        """Rows per table for every guild that receives any, by guild id."""
        out: dict[int, dict[str, int]] = {}
        for table in self.tables.values():
            if table.rule.kind == "guild":
                for guild_id, rows in table.per_guild.items():
                    out.setdefault(guild_id, {})[table.name] = rows
            elif table.rule.kind == "home" and table.read and self.home_guild_id is not None:
                out.setdefault(self.home_guild_id, {})[table.name] = table.read
        return dict(sorted(out.items()))

    def added_columns(self) -> dict[str, list[str]]:
        """The legacy columns added to destination tables that lack them, by table."""
        return {n: [c.name for c in t.added] for n, t in sorted(self.tables.items()) if t.added}

    def global_rows(self) -> dict[str, int]:
        return {t.name: t.read for t in self.tables.values() if t.rule.kind == "global"}


@functools.lru_cache(maxsize=4)
def destination_tables(schema: Schema) -> dict[str, tuple[str, ...]]:
    """Column names of every table of a destination schema, read from its SQL."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema.sql_path.read_text(encoding="utf-8"))
        return {n: tuple(r[1] for r in conn.execute(f"PRAGMA table_info({quote_name(n)})")) for n in own_tables(conn)}
    finally:
        conn.close()


def legacy_tables(conn: sqlite3.Connection) -> dict[str, tuple[Column, ...]]:
    return {n: tuple(Column(r[1], affinity(r[2] or ""))
                     for r in conn.execute(f"PRAGMA table_info({quote_name(n)})")) for n in own_tables(conn)}


def affinity(declared: str) -> str:
    """A declared column type reduced to its SQLite affinity (section 3.1 of the datatype rules).

    Never copied verbatim: a crafted type can carry DEFAULT, CHECK, REFERENCES or a generated column.
    """
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper.strip():
        return ""
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def shown(name: str) -> str:
    """A table or column name for a one-line message: control characters (a newline) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def unknown_tables_message(unknown: Mapping[str, tuple[Column, ...]]) -> str:
    listed = "; ".join(f"{shown(name)} (columns {', '.join(shown(c.name) for c in cols)})"
                       for name, cols in unknown.items())
    example = shown(next(iter(unknown)))
    return (f"The legacy database has {len(unknown)} table(s) the split does not know, {listed}, so "
            f"nothing was written: place each one with {MAP_SYNTAX} "
            f"(for example --map {example}=skip) when running scripts/split_legacy_db.py.")


def canonical_name(name: str, rule: Rule) -> str:
    """The name the split gives a legacy table: a known table's (a legacy `Users` is `users`), else its own.

    SQLite takes table names in any ASCII case, so `Users` reads and writes `users`; the manifest and
    the data-rights map then name it as the destination does.
    """
    schema = BOT_SCHEMA if rule.kind == "global" else GUILD_SCHEMA
    return find_name(destination_tables(schema), name) or find_name(DEFAULT_RULES, name) or name


def _as_named(name: str, rule: Rule, names: list[str]) -> Rule:
    """The rule with its columns spelled as the legacy table spells them (`--map t=guild:GUILD_ID`).

    Raises:
        LegacySplitError: the rule's guild column is not a column of the table.
    """
    column = rule.column
    if rule.kind == "guild":
        column = find_name(names, rule.column or "")
        if column is None:
            raise LegacySplitError(f"Legacy table {name} has no column {rule.column} to take the guild id "
                                   f"from (its columns: {', '.join(names)}); fix its {MAP_SYNTAX} option.")
    subjects = tuple(dict.fromkeys(find_name(names, s) or s for s in rule.subjects))
    return Rule(rule.kind, column, subjects)


def _table_plan(name: str, rule: Rule, columns: tuple[Column, ...]) -> TablePlan:
    names = [c.name for c in columns]
    rule = _as_named(name, rule, names)
    copied = tuple(n for n in names if not (rule.kind == "guild" and n == rule.column))
    if not copied and rule.kind != "skip":
        raise LegacySplitError(f"Legacy table {name} holds nothing but its guild column {rule.column}, so "
                               f"there is nothing to copy; map it with --map {name}=skip.")
    schema = BOT_SCHEMA if rule.kind == "global" else GUILD_SCHEMA
    dest = destination_tables(schema).get(name)
    added: tuple[Column, ...] = ()
    if dest is not None and rule.kind != "skip":
        added = tuple(c for c in columns if c.name in copied and find_name(dest, c.name) is None)
        _check_added(name, rule, schema, added)
    if dest is None and rule.kind != "skip":
        _check_subjects(name, rule, copied)
    return TablePlan(name, rule, copied, columns, dest_exists=dest is not None, added=added)


def _check_added(name: str, rule: Rule, schema: Schema, added: tuple[Column, ...]) -> None:
    """Legacy columns the destination table lacks (the old bot's `ALTER TABLE … ADD COLUMN`) are added to it in
    the guild files, where they go with their row: exported and erased with it.

    Raises:
        LegacySplitError: a column the split cannot place: in the bot-wide file (merged into a live file), or
            one that may name a member (export and erasure could not tell whose row it makes it).
    """
    if not added:
        return
    listed = ", ".join(shown(c.name) for c in added)
    if rule.kind == "global":
        raise LegacySplitError(f"Legacy column(s) {listed} of table {name} have no place in the {schema.kind} "
                               f"file's {name} table; map the table with --map {name}=skip or update the schema "
                               "first.")
    people = [shown(c.name) for c in added if looks_like_person(c.name)]
    if people:
        raise LegacySplitError(f"Legacy column(s) {', '.join(people)} of table {name} may name members, and the new "
                               f"{name} table has no such column, so member export and erasure could not tell "
                               f"whose they are; map the table with --map {name}=skip or update the schema first.")


_NOT_MEMBERS = ("guild", "server", "channel", "role", "message", "emoji", "thread", "category", "webhook")


def _likely_subject(people: list[str]) -> str:
    """The column to show in the example `subjects=`: one that names a person (`user_id`) before one that
    names a Discord object (`guild_id`: following an example that names it would leave the table unerasable)."""
    def rank(column: str) -> int:
        name = folded(column)
        if any(word in name for word in PERSON_WORDS):
            return 0
        return 2 if any(word in name for word in _NOT_MEMBERS) else 1
    return min(people, key=rank)


def _check_subjects(name: str, rule: Rule, copied: tuple[str, ...]) -> None:
    """A table the split creates must be erasable: its member columns named, never in the bot-wide file.

    Raises:
        LegacySplitError: the rule would create data that export and erasure cannot find.
    """
    people = [c for c in copied if looks_like_person(c)]
    unknown = [c for c in rule.subjects if c not in copied]
    if unknown:
        raise LegacySplitError(f"The subjects {', '.join(unknown)} of table {name} are not among its copied "
                               f"columns ({', '.join(copied)}); fix its {MAP_SYNTAX} option.")
    if rule.kind == "global" and (people or rule.subjects):
        raise LegacySplitError(f"Legacy table {name} has columns that may name members ({', '.join(people)}), "
                               "so it cannot go to the bot-wide file, which member export and erasure never "
                               f"read; map it to a guild with subjects=…, or --map {name}=skip.")
    if people and not rule.subjects:
        raise LegacySplitError(f"Legacy table {name} has columns that may name members ({', '.join(people)}); "
                               "name the ones that say whose row it is so that export and erasure cover "
                               f"the new table, e.g. --map {name}={rule},subjects={_likely_subject(people)} "
                               f"(or --map {name}=skip).")


def _count(conn: sqlite3.Connection, table: TablePlan) -> None:
    q = quote_name(table.name)
    table.read = conn.execute(f"SELECT count(*) FROM {q}").fetchone()[0]  # noqa: S608 (quoted identifier)
    if table.rule.kind != "guild" or not table.read:
        return
    col = quote_name(table.rule.column or "")
    table.per_guild = dict(conn.execute(
        f"SELECT {col}, count(*) FROM {q} WHERE {table.valid_filter} GROUP BY {col}"))  # noqa: S608
    table.invalid_guild = table.read - sum(table.per_guild.values())


def not_tables(conn: sqlite3.Connection, rules: Mapping[str, Rule]) -> list[LegacySplitError]:
    """Names the split reads that are views or anything else but tables (a view can run any query)."""
    return [LegacySplitError(f"The legacy {name} is a {kind}, not a table, so nothing was split: it cannot be "
                             "a database the old bot wrote; check the file.")
            for name, kind in conn.execute("SELECT name, type FROM sqlite_master WHERE type != 'table'")
            if find_name(rules, name) is not None]


def resolve_home(conn: sqlite3.Connection, explicit: int | None, *, settings_table: bool = True) -> int | None:
    """The home guild: the explicit id, else legacy bot_settings.default_guild, else None.

    Raises:
        LegacySplitError: the id given or recorded is not a Discord server id.
    """
    if explicit is not None:
        try:
            return validate_guild_id(explicit)
        except InvalidGuildIdError as error:
            raise LegacySplitError(f"The home guild {error.user_message}") from error
    if not settings_table:
        return None
    try:
        row = conn.execute("SELECT value FROM bot_settings WHERE key = 'default_guild'").fetchone()
    except sqlite3.OperationalError:  # no bot_settings table, or not that shape
        return None
    if row is None or row[0] is None:
        return None
    try:
        return parse_guild_id(str(row[0]))
    except InvalidGuildIdError as error:
        raise LegacySplitError(f"The legacy bot_settings.default_guild holds {str(row[0])[:40]!r}, not a "
                               "server id; give the home guild with --home-guild ID (or HOME_GUILD_ID).") from error


def make_plan(conn: sqlite3.Connection, rules: Mapping[str, Rule], home_guild_id: int | None) -> Plan:
    """Plan the split of the database open on `conn` (read in one snapshot).

    What stops the split is collected in `problems` (unknown tables first); `Plan.check()` raises it.
    """
    own_snapshot = not conn.in_transaction
    if own_snapshot:
        conn.execute("BEGIN")
    try:
        found = legacy_tables(conn)
        known = {n: rules[key] for n in found if (key := find_name(rules, n)) is not None}
        plan = Plan({}, None, unknown={n: cols for n, cols in found.items() if n not in known})
        plan.problems += not_tables(conn, rules)
        if plan.unknown:
            plan.problems.append(UnknownLegacyTablesError(unknown_tables_message(plan.unknown),
                                                          tables=list(plan.unknown)))
        for legacy_name, rule in known.items():
            name = canonical_name(legacy_name, rule)
            try:
                plan.tables[name] = _table_plan(name, rule, found[legacy_name])
            except LegacySplitError as error:
                plan.problems.append(error)
        for table in plan.tables.values():
            _count(conn, table)
        home_error = None
        try:
            settings = find_name(found, "bot_settings") is not None
            plan.home_guild_id = resolve_home(conn, home_guild_id, settings_table=settings)
        except LegacySplitError as error:
            home_error = error
    finally:
        if own_snapshot:
            conn.execute("COMMIT")
    homeless = [t.name for t in plan.tables.values() if t.rule.kind == "home" and t.read]
    if home_error is not None:
        plan.problems.append(home_error)
    elif homeless and plan.home_guild_id is None:
        plan.problems.append(LegacySplitError(
            f"No home guild for the user-level tables ({', '.join(homeless[:3])}…): give it with "
            "--home-guild ID or HOME_GUILD_ID; the legacy bot_settings has no default_guild."))
    return plan
