"""Building the destination files in the staging directory, set-based, from the backup.

One connection has the backup as `main` (indexed on the guild columns: the
backup is our copy) and the quarantine file as `q`; each destination file is
attached as `g` in turn and filled by `INSERT … SELECT` in one transaction.
Foreign keys are off: orphans are copied as they are (counted by digest.py).
A table whose rows break the destination's types or keys is redone row by row,
and each refused row goes to the quarantine with SQLite's reason.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.db.schema import Schema
from app.legacy.collations import register_stand_ins
from app.legacy.digest import TableDigest
from app.legacy.plan import TablePlan
from app.legacy.rowid import rowid_name
from app.legacy.rules import folded, quote_name
from app.rights.atomic import private_file

INVALID_GUILD_REASON = "the guild id is not a Discord server id (an integer, 0 < id < 2**63)"


def quarantine_columns(legacy_columns: list[str]) -> tuple[str, str]:
    """The names of a quarantine table's own two columns: `_legacy_rowid` and `_reason`, or with more
    leading underscores when the legacy table has a column of either name."""
    taken = {folded(c) for c in legacy_columns}
    prefix = "_"
    while folded(f"{prefix}legacy_rowid") in taken or folded(f"{prefix}reason") in taken:
        prefix += "_"
    return f"{prefix}legacy_rowid", f"{prefix}reason"


@dataclass(slots=True)
class Job:
    table: TablePlan
    guild_id: int | None  # rows of this guild only; None: the whole table


@dataclass(slots=True)
class StagedFile:
    path: Path
    guild_id: int | None  # None: the bot-wide file
    copied: list[tuple[str, tuple[str, ...]]]  # (table, columns copied) to count and checksum
    tables: dict[str, TableDigest] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name


class Stager:
    """Builds staged destination files and the quarantine file from one backup."""

    def __init__(self, backup: Path, quarantine: Path) -> None:
        self.conn = sqlite3.connect(backup, isolation_level=None)
        self.conn.execute("PRAGMA trusted_schema = OFF")  # the backup's schema is the legacy file's
        self.conn.execute("PRAGMA foreign_keys = OFF")  # orphans are copied, not refused
        self.conn.execute("PRAGMA cache_size = -131072")
        register_stand_ins(self.conn)  # the old bot's own collations, if it had any
        self.quarantine_path = quarantine
        self.quarantined: Counter[str] = Counter()
        self._quarantine_tables: set[str] = set()
        self._rowid_names: dict[str, str | None] = {}
        quarantine.unlink(missing_ok=True)
        with private_file(quarantine):
            pass  # SQLite fills an empty file; created 0600 first, whatever the umask
        self.conn.execute("ATTACH DATABASE ? AS q", (str(quarantine),))
        self.conn.execute("PRAGMA q.journal_mode = MEMORY")

    def close(self) -> None:
        self.conn.close()

    def index_guild_columns(self, tables: list[TablePlan]) -> None:
        """Index the guild column of every guild-mapped table of the backup (per-guild reads)."""
        for table in tables:
            if table.rule.kind == "guild" and table.read:
                # BINARY: guild ids are integers, which no collation orders; the old bot's own collation
                # would be a stand-in here (collations.py), and an index ordered by it misleads its real one
                name = quote_name(f"legacy_split_{table.name}_{table.rule.column}_binary")
                self.conn.execute(f"CREATE INDEX IF NOT EXISTS main.{name} ON {quote_name(table.name)} "
                                  f"({quote_name(table.rule.column or '')} COLLATE BINARY)")

    def quarantine_invalid_guilds(self, table: TablePlan) -> None:
        """Move (copy) the rows whose guild id is not a snowflake to the quarantine file."""
        if not table.invalid_guild:
            return
        self.conn.execute("BEGIN")
        self._ensure_quarantine_table(table)
        cur = self.conn.execute(self._quarantine_sql(table, f"NOT {table.valid_filter}"),
                                (INVALID_GUILD_REASON,))
        self.conn.execute("COMMIT")
        self.quarantined[table.name] += cur.rowcount

    def stage(self, path: Path, schema: Schema, guild_id: int | None, jobs: list[Job]) -> StagedFile:
        """Build `path` from the schema's template and fill it (counted and checksummed later)."""
        with private_file(path) as out:
            out.write(schema.image)
        self.conn.execute("ATTACH DATABASE ? AS g", (str(path),))
        try:
            self.conn.execute("PRAGMA g.journal_mode = MEMORY")  # a staged file is rebuilt if interrupted
            self.conn.execute("PRAGMA g.synchronous = OFF")  # synced once, before it is renamed
            self.conn.execute("BEGIN")
            if guild_id is not None:
                self.conn.execute(f"UPDATE g.{schema.meta_table} SET guild_id = ?", (guild_id,))  # noqa: S608
            for job in jobs:
                self._copy(job, path.name)
            self.conn.execute("COMMIT")
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.execute("DETACH DATABASE g")
        return StagedFile(path, guild_id, [(job.table.name, job.table.columns) for job in jobs])

    def _copy(self, job: Job, file_name: str) -> None:
        table = job.table
        q = quote_name(table.name)
        if not table.dest_exists:
            columns = ", ".join(f"{quote_name(c.name)} {c.decl_type}".rstrip()
                                for c in table.legacy_columns if c.name in table.columns)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS g.{q} ({columns})")
        if table.added:
            self._add_columns(table)
        cols = ", ".join(quote_name(c) for c in table.columns)
        where, params = self._filter(job)
        rowid = self._rowid(table)
        order = f"ORDER BY {rowid}" if rowid else ""
        try:
            self.conn.execute(f"INSERT INTO g.{q} ({cols}) SELECT {cols} FROM main.{q} {where} {order}",  # noqa: S608
                              params)
        except sqlite3.IntegrityError:
            self._copy_row_by_row(job, file_name)

    def _add_columns(self, table: TablePlan) -> None:
        """The legacy columns the destination table lacks, added untyped (`ANY` in a STRICT table): every value
        is kept exactly as it was stored, as no affinity or type check can change or refuse it."""
        strict = self.conn.execute("SELECT strict FROM pragma_table_list WHERE schema = 'g' AND name = ?",
                                   (table.name,)).fetchone()  # (`g.pragma_table_list` lists every schema's)
        kind = " ANY" if strict and strict[0] else ""
        for column in table.added:
            self.conn.execute(f"ALTER TABLE g.{quote_name(table.name)} ADD COLUMN {quote_name(column.name)}{kind}")

    def _copy_row_by_row(self, job: Job, file_name: str) -> None:
        table = job.table
        q, rowid = quote_name(table.name), self._rowid(table)
        where, params = self._filter(job)
        if rowid is None:  # WITHOUT ROWID, or its columns take all three names: no rowid picks one row
            source, rowid = self._set_apart(job, where, params), "rowid"
            where, params = "", ()
            picked = [f"c{i}" for i, c in enumerate(table.legacy_columns) if c.name in table.columns]
            every, legacy_rowid = ", ".join(f"c{i}" for i in range(len(table.legacy_columns))), "NULL"
        else:
            source, legacy_rowid = f"main.{q}", rowid
            picked = [quote_name(c) for c in table.columns]
            every = ", ".join(quote_name(c.name) for c in table.legacy_columns)
        found = self.conn.execute(f"SELECT {rowid} FROM {source} {where} ORDER BY {rowid}",  # noqa: S608
                                  params).fetchall()
        insert = (f"INSERT INTO g.{q} ({', '.join(quote_name(c) for c in table.columns)}) "  # noqa: S608
                  f"SELECT {', '.join(picked)} FROM {source} WHERE {rowid} = ?")
        set_aside = f"INSERT INTO q.{q} SELECT {legacy_rowid}, ?, {every} FROM {source} WHERE {rowid} = ?"  # noqa: S608
        for (key,) in found:
            try:
                self.conn.execute(insert, (key,))
            except sqlite3.IntegrityError as error:
                self._ensure_quarantine_table(table)
                self.conn.execute(set_aside, (f"{error} (in {file_name})", key))
                self.quarantined[table.name] += 1
        if source != f"main.{q}":
            self.conn.execute(f"DROP TABLE {source}")

    def _set_apart(self, job: Job, where: str, params: tuple[object, ...]) -> str:
        """The job's rows copied, as they are, into a temporary table with a rowid; returns its name.

        Picking them by their primary key would compare with the key's collation, and a stand-in for
        the old bot's own (collations.py) may take two keys for one: a row inserted twice, another lost.
        """
        columns = ", ".join(quote_name(c.name) for c in job.table.legacy_columns)
        self.conn.execute("DROP TABLE IF EXISTS temp.legacy_split_rows")
        # untyped columns named c0, c1, …: no affinity changes a value, no column hides the rowid
        self.conn.execute(f"CREATE TEMP TABLE legacy_split_rows "
                          f"({', '.join(f'c{i}' for i in range(len(job.table.legacy_columns)))})")
        self.conn.execute(f"INSERT INTO temp.legacy_split_rows SELECT {columns} "  # noqa: S608
                          f"FROM main.{quote_name(job.table.name)} {where}", params)
        return "temp.legacy_split_rows"

    def _filter(self, job: Job) -> tuple[str, tuple[object, ...]]:
        if job.guild_id is None:
            return "", ()
        col = quote_name(job.table.rule.column or "")
        return f"WHERE {col} = ? COLLATE BINARY AND typeof({col}) = 'integer'", (job.guild_id,)

    def _rowid(self, table: TablePlan) -> str | None:
        """The name reaching the table's rowid (a column may be called `rowid`); None: it has none to reach."""
        if table.name not in self._rowid_names:
            self._rowid_names[table.name] = rowid_name(self.conn, "main", table.name)
        return self._rowid_names[table.name]

    def _ensure_quarantine_table(self, table: TablePlan) -> None:
        if table.name in self._quarantine_tables:
            return
        columns = ", ".join(quote_name(c.name) for c in table.legacy_columns)
        rowid, reason = quarantine_columns([c.name for c in table.legacy_columns])
        # untyped columns keep every legacy value exactly as it was stored
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS q.{quote_name(table.name)} "
                          f"({quote_name(rowid)}, {quote_name(reason)}, {columns})")
        self._quarantine_tables.add(table.name)

    def _quarantine_sql(self, table: TablePlan, condition: str) -> str:
        q = quote_name(table.name)
        rowid = self._rowid(table) or "NULL"
        columns = ", ".join(quote_name(c.name) for c in table.legacy_columns)
        return (f"INSERT INTO q.{q} SELECT {rowid}, ?, {columns} FROM main.{q} "  # noqa: S608
                f"WHERE {condition}")
