"""Collations the legacy file uses but this process lacks: stand-ins to read it, and what they cost.

The old bot may have registered a collation of its own (Python's `create_collation`, e.g.
`unicode_nocase`) and used it in a column or an index. SQLite then refuses every statement that
might compare with it, even `count(*)` ("no such collation sequence"). The split reads rows in
rowid order and compares guild ids as integers, which no collation orders, so a stand-in (a
case-insensitive compare) registered on our own connection, for those names only, lets it read
every row. No collation reaches a guild file: declared types are reduced to their affinity.

A stand-in cannot agree with an index that the real collation ordered (or whose WHERE it decides):
under it such an index may look misordered, and a delete may not find its entry. So the integrity
check excuses what only the order can cause in those indexes (an entry not found, a false duplicate,
and of a WITHOUT ROWID table keyed by one, its order); an index holding more or fewer entries than
its table has rows is damage whatever the order, unless a stand-in decides which rows it holds (a
partial index). Erasure drops those indexes from a kept copy before it deletes (an index holds no row
of its own). A constraint's own index cannot be dropped: a delete the stand-in cannot place there
fails, and the file is unchanged.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from app.legacy.rules import folded, quote_name

_COLLATE = re.compile(r"""\bCOLLATE\s+("(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|'(?:[^']|'')+'|[^\s,();]+)""",
                      re.IGNORECASE)
_ORDER_FINDING = "non-unique entry in index {}"
_COUNT_FINDING = "wrong # of entries in index {}"


def stand_in(a: str, b: str) -> int:
    """Case-insensitive, as the old bots' own collations (`unicode_nocase`, …) mostly were."""
    x, y = a.casefold(), b.casefold()
    return (x > y) - (x < y)


@dataclass(frozen=True, slots=True)
class StandIns:
    """The collations a connection got stand-ins for, and the indexes that use them."""

    names: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()  # every index with a key in a stand-in collation, or a WHERE using one
    droppable: tuple[str, ...] = ()  # those made by CREATE INDEX (a constraint's own index is not)
    keyed_tables: tuple[str, ...] = ()  # tables whose primary key uses one (WITHOUT ROWID: the table's order)
    partial: tuple[str, ...] = ()  # indexes whose WHERE uses one: the stand-in decides which rows they hold

    def excuses(self, finding: str) -> bool:
        """An integrity-check finding that only the stand-in's order can explain (not damage we can see)."""
        for index in self.indexes:
            if finding == _ORDER_FINDING.format(index) or (
                    finding.startswith("row ") and finding.endswith(f" missing from index {index}")):
                return True
        if any(finding == _COUNT_FINDING.format(index) for index in self.partial):
            return True
        return any(finding == f"row not in PRIMARY KEY order for {table}" for table in self.keyed_tables)


def _unquoted(token: str) -> str:
    if token[0] in "\"'`":
        return token[1:-1].replace(token[0] * 2, token[0])
    return token[1:-1] if token[0] == "[" else token


def used_collations(conn: sqlite3.Connection, schema: str = "main") -> dict[str, str]:
    """Collation names the schema's SQL mentions, by folded name (a name in a comment only costs a stand-in)."""
    found: dict[str, str] = {}
    for (sql,) in conn.execute(f"SELECT sql FROM {quote_name(schema)}.sqlite_master WHERE sql IS NOT NULL"):  # noqa: S608
        for token in _COLLATE.findall(sql):
            name = _unquoted(token)
            found.setdefault(folded(name), name)
    return found


def _available(conn: sqlite3.Connection, name: str) -> bool:
    """Whether `conn` can compare with the collation (`collation_list` also names those the schema merely mentions)."""
    try:
        conn.execute(f"SELECT 'a' < 'b' COLLATE {quote_name(name)}")
    except sqlite3.OperationalError:
        return False
    return True


def register_stand_ins(conn: sqlite3.Connection) -> StandIns:
    """Give `conn` a stand-in for every collation the file uses and `conn` lacks (only those)."""
    missing = [name for name in used_collations(conn).values() if not _available(conn, name)]
    if not missing:
        return StandIns()
    for name in missing:
        conn.create_collation(name, stand_in)
    wanted = {folded(n) for n in missing}
    indexes, droppable, keyed, partial = [], [], [], []
    tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    for table in tables:
        for _, index, _, origin, is_partial in conn.execute(f"PRAGMA index_list({quote_name(table)})"):
            colls = {folded(r[4] or "") for r in conn.execute(f"PRAGMA index_xinfo({quote_name(index)})")}
            in_where = is_partial and bool(wanted & {folded(_unquoted(t)) for t in _COLLATE.findall(sql[index])})
            if colls & wanted or in_where:
                indexes.append(index)
                if origin == "c":
                    droppable.append(index)
                elif origin == "pk":
                    keyed.append(table)
            if in_where:
                partial.append(index)
    return StandIns(tuple(missing), tuple(indexes), tuple(droppable), tuple(keyed), tuple(partial))
