"""Guild export: a consistent snapshot of one guild's file, as SQLite or as a zip of JSON tables.

The snapshot is read through a separate read-only connection in one read
transaction, so the bot's connection (and the worker it shares with other
guilds) keeps serving writes meanwhile; WAL gives the reader a fixed view.
The caller holds a lease on the guild, which keeps deletion away until the
export is done.
"""
from __future__ import annotations

import asyncio
import gzip
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.db.connection import GuildDb
from app.db.fleet import open_guild_read_only, table_counts
from app.errors import InvalidInputError
from app.rights.atomic import atomic_output
from app.rights.export_json import write_json_zip
from app.scratch import private_scratch

ExportFormat = Literal["sqlite", "json"]
FORMATS: tuple[ExportFormat, ...] = ("sqlite", "json")


@dataclass(frozen=True, slots=True)
class ExportResult:
    guild_id: int
    path: Path
    format: ExportFormat
    bytes_written: int
    schema_version: int
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"guild_id": self.guild_id, "path": str(self.path), "format": self.format,
                "bytes_written": self.bytes_written, "schema_version": self.schema_version,
                "seconds": round(self.seconds, 4), "tables": self.tables,
                "rows": sum(self.tables.values())}


async def export_guild(db: GuildDb, out: Path, *, fmt: ExportFormat = "sqlite",
                       overwrite: bool = False) -> ExportResult:
    """Write a snapshot of the guild behind `db` to `out` (temp name, then rename).

    Raises:
        InvalidInputError: an unknown format.
        AlreadyExistsError: `out` exists and `overwrite` is false.
    """
    if fmt not in FORMATS:
        raise InvalidInputError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    return await asyncio.to_thread(_export, _source(db), db.guild_id, Path(out), fmt, overwrite)


def _source(db: GuildDb) -> Path | None:
    """The file to read; None for a guild never written (no file: its export is that of a new, empty one)."""
    return None if db.is_copy else db.path


def _export(source: Path | None, guild_id: int, out: Path, fmt: ExportFormat, overwrite: bool) -> ExportResult:
    started = time.perf_counter()
    with open_guild_read_only(source, guild_id) as src, atomic_output(out, overwrite=overwrite) as tmp:
        if fmt == "sqlite":
            version, counts = backup_to_file(src, tmp)
        else:
            version, counts = write_json_zip(src, tmp, guild_id)
    return ExportResult(guild_id, out, fmt, out.stat().st_size, version,
                        time.perf_counter() - started, counts)


def backup_to_file(src: sqlite3.Connection, target: Path) -> tuple[int, dict[str, int]]:
    """Copy `src` into a new self-contained file (no -wal) with the online backup API.

    One backup step copies every page inside a single read transaction: a consistent snapshot.
    """
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        src.backup(dest)  # pages=-1: all at once, one snapshot
        dest.execute("PRAGMA journal_mode = DELETE")  # the copy needs no -wal beside it
        version = int(dest.execute("PRAGMA user_version").fetchone()[0])
        counts = table_counts(dest)
    finally:
        dest.close()
    return version, counts


def gzip_file(source: Path, target: Path) -> int:
    """Compress `source` into `target` (temp name, then rename); returns the compressed size."""
    with atomic_output(target, overwrite=True) as tmp, open(source, "rb") as raw, \
            gzip.open(tmp, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, length=1 << 20)
    return target.stat().st_size


@dataclass(frozen=True, slots=True)
class PackedExport:
    """A gzip-compressed SQLite export in memory, or only its size when over `max_bytes`."""

    filename: str
    compressed_bytes: int
    data: bytes | None
    result: ExportResult


async def export_packed(db: GuildDb, *, max_bytes: int) -> PackedExport:
    """Export the guild behind `db` as `guild-<id>.sqlite3.gz`, kept in memory only if it fits `max_bytes`."""
    return await asyncio.to_thread(_pack, _source(db), db.guild_id, max_bytes)


def _pack(source: Path | None, guild_id: int, max_bytes: int) -> PackedExport:
    name = f"guild-{guild_id}.sqlite3"
    with private_scratch("guildshelf-export-") as tmp:
        result = _export(source, guild_id, tmp / name, "sqlite", False)
        packed = tmp / f"{name}.gz"
        size = gzip_file(result.path, packed)
        data = packed.read_bytes() if size <= max_bytes else None
    return PackedExport(f"{name}.gz", size, data, result)
