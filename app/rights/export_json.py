"""The JSON export: a zip with one human-readable JSON file per table and a manifest."""
from __future__ import annotations

import base64
import io
import json
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from app.db.schema import is_sqlite_internal, own_tables

EXPORT_FORMAT = "guildshelf-guild-export"
EXPORT_FORMAT_VERSION = 1
_BATCH = 2000
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def quote_identifier(name: str) -> str:
    """Quote an identifier read from sqlite_master (never from user input)."""
    return '"' + name.replace('"', '""') + '"'


def list_tables(conn: sqlite3.Connection) -> list[str]:
    """User tables of a database file, by name (SQLite's internal tables and the `_litestream_lock` and
    `_litestream_seq` Litestream adds to a replicated file, which hold no one's data, excluded)."""
    return [name for name in own_tables(conn) if not name.startswith("_litestream_")]


def json_value(value: Any) -> Any:
    """A column value as JSON: blobs become {"base64": ...}, everything else is as stored."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def iter_rows(conn: sqlite3.Connection, table: str, query: str | None = None,
              params: tuple[Any, ...] = ()) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Columns and rows (as dicts) of one table (or of `query` over it), fetched in batches."""
    cur = conn.execute(query or f"SELECT * FROM {quote_identifier(table)}", params)  # noqa: S608
    columns = [d[0] for d in cur.description]

    def rows() -> Iterator[dict[str, Any]]:
        while batch := cur.fetchmany(_BATCH):
            for row in batch:
                yield {c: json_value(v) for c, v in zip(columns, row, strict=True)}

    return columns, rows()


def _write_table(out: TextIO, table: str, columns: list[str], rows: Iterator[dict[str, Any]]) -> int:
    out.write(f'{{\n  "table": {json.dumps(table)},\n  "columns": {json.dumps(columns)},\n  "rows": [')
    count = 0
    for row in rows:
        out.write(("," if count else "") + "\n    " + json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n  ]\n}\n" if count else "]\n}\n")
    return count


def write_json_zip(src: sqlite3.Connection, target: Path, guild_id: int) -> tuple[int, dict[str, int]]:
    """Write every table of `src` to a zip at `target`, all read in one read transaction."""
    counts: dict[str, int] = {}
    src.execute("BEGIN")  # one snapshot for every table
    try:
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
        schema = [sql for name, sql in src.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC, name")
                  if not is_sqlite_internal(name)]
        entries: dict[str, str] = {}
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for table in list_tables(src):
                columns, rows = iter_rows(src, table)
                entries[table] = entry_name(table, set(entries.values()))
                with archive.open(entries[table], "w") as raw, \
                        io.TextIOWrapper(raw, encoding="utf-8") as text:
                    counts[table] = _write_table(text, table, columns, rows)
            archive.writestr("schema.sql", ";\n\n".join(schema) + ";\n")
            archive.writestr("manifest.json", json.dumps(_manifest(guild_id, version, counts, entries), indent=2))
    finally:
        src.execute("COMMIT")
    return version, counts


def entry_name(table: str, taken: set[str]) -> str:
    """`tables/<name>.json` with the table name reduced to safe characters (a table may be named `../../x`)."""
    safe = _UNSAFE.sub("_", table).strip("._")[:100] or "table"
    name, n = f"tables/{safe}.json", 1
    while name in taken:
        n += 1
        name = f"tables/{safe}-{n}.json"
    return name


def _manifest(guild_id: int, version: int, counts: dict[str, int], entries: dict[str, str]) -> dict[str, Any]:
    return {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION, "guild_id": guild_id,
            "schema_version": version, "sqlite_version": sqlite3.sqlite_version,
            "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tables": counts, "rows": sum(counts.values()),
            "files": [entries[t] for t in counts] + ["schema.sql"], "entries": entries}

