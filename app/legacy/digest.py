"""Row counts and content checksums of tables, computed mostly inside SQLite.

A table's checksum is the SHA-256 of its rows in rowid order, each row the SQL
`quote()` of its columns joined by `|`, rows joined by newlines (a table whose columns
are named `rowid`, `_rowid_` and `oid` has no rowid to read: its rows go in the order of
their text). SQLite builds
the text in chunks (`group_concat`), Python only hashes the bytes: about as fast as
reading the table. The manifest records it for each table of each file as
written (recompute it from the file to check the file); the copy itself is
deterministic (rows inserted in legacy rowid order), so a rerun gives the same.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.legacy.rowid import rowid_name
from app.legacy.rules import quote_name

_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class TableDigest:
    rows: int
    checksum: str


def table_digest(conn: sqlite3.Connection, schema: str, table: str, columns: Sequence[str],
                 where: str = "", params: Sequence[object] = ()) -> TableDigest:
    """Count and checksum the rows of `schema.table` (optionally filtered) in rowid order.

    A chunk whose text would pass SQLite's length limit (1e9 bytes: a few dozen large blobs)
    is read in smaller chunks, down to one row, and a value too large to `quote()` in SQL is
    quoted here, byte for byte as SQLite would.
    """
    row_text = _joined([f"quote({quote_name(c)})" for c in columns])
    condition = f"AND ({where})" if where else ""
    rowid = rowid_name(conn, schema, table)
    if rowid is None:
        return _digest_by_text(conn, f"{quote_name(schema)}.{quote_name(table)}", row_text, where, params)
    sql = (f"SELECT count(*), CAST(group_concat(x, char(10)) AS BLOB), max(r) FROM ("  # noqa: S608 (quoted identifiers)
           f"SELECT {rowid} AS r, {row_text} AS x FROM {quote_name(schema)}.{quote_name(table)} "
           f"WHERE {rowid} >= ? {condition} ORDER BY {rowid} LIMIT ?)")
    hasher = hashlib.sha256()
    total, after, first, limit = 0, -(2**63), True, _CHUNK  # `after`: the next rowid to read, at least
    while True:
        try:
            count, text, last = conn.execute(sql, (after, *params, limit)).fetchone()
        except sqlite3.DataError as error:
            if not _too_big(error):
                raise
            if limit > 1:
                limit = max(1, limit // 16)
                continue
            count, text, last = _one_row(conn, schema, table, columns, after, condition, params, rowid)
        if not count:
            break
        if not first:
            hasher.update(b"\n")
        hasher.update(text)
        total, after, first = total + count, last + 1, False
        if count < limit or last == 2**63 - 1:
            break
        limit = min(_CHUNK, limit * 2)
    return TableDigest(total, hasher.hexdigest())


def _joined(parts: Sequence[str]) -> str:
    """`a||'|'||b||'|'||c…` as a balanced tree of concatenations: the same text, but a chain of a few hundred
    columns would pass SQLite's expression depth limit (1000), this one stays about 2·log2(n) deep."""
    if len(parts) <= 2:
        return "||'|'||".join(parts) or "''"
    half = len(parts) // 2
    return f"({_joined(parts[:half])})||'|'||({_joined(parts[half:])})"


def _digest_by_text(conn: sqlite3.Connection, source: str, row_text: str, where: str,
                    params: Sequence[object]) -> TableDigest:
    """Count and checksum a table with no rowid to read, its rows in the order of their text (deterministic)."""
    condition = f"WHERE {where}" if where else ""
    hasher, total = hashlib.sha256(), 0
    for (text,) in conn.execute(f"SELECT CAST({row_text} AS BLOB) FROM {source} {condition} "  # noqa: S608
                                "ORDER BY 1", tuple(params)):
        hasher.update(b"\n" + text if total else text)
        total += 1
    return TableDigest(total, hasher.hexdigest())


def _too_big(error: sqlite3.Error) -> bool:
    return "too big" in str(error)


def _one_row(conn: sqlite3.Connection, schema: str, table: str, columns: Sequence[str], after: int,
             condition: str, params: Sequence[object], key: str) -> tuple[int, bytes, int]:
    """The next row's text, a column at a time (its `quote()` text is over SQLite's length limit)."""
    source = f"{quote_name(schema)}.{quote_name(table)}"
    (rowid,) = conn.execute(f"SELECT {key} FROM {source} WHERE {key} >= ? {condition} "  # noqa: S608
                            f"ORDER BY {key} LIMIT 1", (after, *params)).fetchone()
    parts = []
    for column in columns:
        col = quote_name(column)
        try:
            part = conn.execute(f"SELECT CAST(quote({col}) AS BLOB) FROM {source} WHERE {key} = ?",  # noqa: S608
                                (rowid,)).fetchone()[0]
        except sqlite3.DataError as error:
            if not _too_big(error):
                raise
            kind, raw = conn.execute(f"SELECT typeof({col}), CAST({col} AS BLOB) FROM {source} "  # noqa: S608
                                     f"WHERE {key} = ?", (rowid,)).fetchone()
            part = _quote(kind, raw)
        parts.append(part)
    return 1, b"|".join(parts), rowid


def _quote(kind: str, raw: bytes) -> bytes:
    """SQLite's `quote()` of a text or blob value, from its bytes (text stops at a NUL, as SQLite's does)."""
    if kind == "blob":
        return b"X'" + raw.hex().upper().encode("ascii") + b"'"
    return b"'" + raw.split(b"\0", 1)[0].replace(b"'", b"''") + b"'"


def count_orphans(conn: sqlite3.Connection, schema: str, table: str) -> int:
    """Rows of `table` whose foreign key points at no row (copied as they were; counted here)."""
    sch, q = quote_name(schema), quote_name(table)
    if not conn.execute(f"PRAGMA {sch}.foreign_key_list({q})").fetchall():
        return 0
    return len(conn.execute(f"PRAGMA {sch}.foreign_key_check({q})").fetchall())


@dataclass(frozen=True, slots=True)
class FileDigest:
    tables: dict[str, TableDigest]
    orphans: dict[str, int]


def digest_file(path: Path, tables: Sequence[tuple[str, Sequence[str]]]) -> FileDigest:
    """Counts, checksums and orphans of the given tables of a finished file, read-only.

    Runs on a worker thread while the next file is built: SQLite releases the GIL.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        digests = {name: table_digest(conn, "main", name, columns) for name, columns in tables}
        orphans = {name: n for name, _ in tables if (n := count_orphans(conn, "main", name))}
    finally:
        conn.close()
    return FileDigest(digests, orphans)
