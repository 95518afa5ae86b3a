"""Reaching a legacy table's rowid when its own columns may be named `rowid`, `_rowid_` or `oid`.

SQLite gives a rowid table three names for its rowid, and a column of any of those names hides it:
`SELECT rowid` then reads the column (NULLs and duplicates included). The first name no column
takes still reaches the rowid; a table whose columns take all three has none the split can read,
and is handled like a WITHOUT ROWID table (by its primary key).
"""
from __future__ import annotations

import sqlite3

from app.legacy.rules import folded, quote_name

ROWID_NAMES = ("rowid", "_rowid_", "oid")


def rowid_name(conn: sqlite3.Connection, schema: str, table: str) -> str | None:
    """The name that reaches the table's rowid, or None (WITHOUT ROWID, or all three names are columns)."""
    source = f"{quote_name(schema)}.{quote_name(table)}"
    columns = {folded(r[1]) for r in conn.execute(f"PRAGMA {quote_name(schema)}.table_xinfo({quote_name(table)})")}
    name = next((n for n in ROWID_NAMES if n not in columns), None)
    if name is None:
        return None
    try:
        conn.execute(f"SELECT {name} FROM {source} LIMIT 0")  # noqa: S608 (a fixed name, a quoted identifier)
    except sqlite3.OperationalError:  # a WITHOUT ROWID table
        return None
    return name
