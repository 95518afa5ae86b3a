"""What a restore must not undo: the deletions and member erasures recorded after a copy was made.

They are read before anything is restored, from the live bot-wide file and from the bot-wide copy of every
backup in the folder: a lost or set-aside bot-wide file still leaves the deletions and erasures the backups
saw, and a restored bot-wide file gets back the receipts (and the live guild registry) its copy predates.

Receipts are stored as `strftime('%Y-%m-%dT%H:%M:%fZ')` (milliseconds), a copy's time as ISO with
microseconds and +00:00. They are compared at the millisecond, and a receipt of the copy's own millisecond
counts as after it: the guild stays deleted, the member is erased again (the side that undoes nothing).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.db.ids import BOT_FILE_NAME
from app.errors import DatabaseUnreadableError

Row = tuple[object, ...]
RECEIPT_COLUMNS = ("scope", "guild_id", "user_id", "requested_by", "reason", "bytes_deleted", "rows_deleted",
                   "deleted_at")
REGISTRY_COLUMNS = ("guild_id", "name", "joined_at", "left_at", "purge_after")


def moment(text: str) -> datetime:
    """An ISO-8601 time as UTC (a time without an offset is taken as UTC), to the millisecond.

    Raises:
        ValueError: not such a time.
    """
    parsed = datetime.fromisoformat(text)
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def receipt_time(text: object) -> datetime:
    """When a receipt was written; one whose time cannot be read counts as after every copy."""
    try:
        return moment(str(text))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)


def copy_time(text: str) -> datetime:
    """When a copy was made; one whose time cannot be read counts as older than everything."""
    try:
        return moment(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class Receipts:
    """Every receipt found (by content: the same receipt in several files counts once), indexed."""

    rows: dict[Row, int] = field(default_factory=dict)  # receipt (RECEIPT_COLUMNS) -> its id where first found
    registry: list[Row] | None = None  # the live file's guild registry (None: no live file)
    deletions: dict[int, datetime] = field(default_factory=dict)  # guild -> its file's last deletion
    erasures: dict[int, list[tuple[int, datetime]]] = field(default_factory=dict)  # guild -> (member, when)
    everywhere: list[tuple[int, datetime]] = field(default_factory=list)  # (member, when): `user forget`

    def add(self, receipt_id: int, row: Row) -> None:
        if row in self.rows:
            return
        self.rows[row] = receipt_id
        scope, guild_id, user_id, when = row[0], row[1], row[2], receipt_time(row[7])
        if guild_id is None and scope == "member" and isinstance(user_id, int):
            self.everywhere.append((user_id, when))
        if not isinstance(guild_id, int):
            return
        if scope == "guild":
            self.deletions[guild_id] = max(when, self.deletions.get(guild_id, when))
        elif scope == "member" and isinstance(user_id, int):
            self.erasures.setdefault(guild_id, []).append((user_id, when))

    def deleted_after(self, guild_id: int, copied_at: str) -> datetime | None:
        """When the guild's file was deleted, if that was after (or in the millisecond of) the copy."""
        deleted = self.deletions.get(guild_id)
        return deleted if deleted is not None and deleted >= copy_time(copied_at) else None

    def erased_after(self, guild_id: int, copied_at: str) -> tuple[int, ...]:
        """The members erased from the guild, or from every guild, after (or in the millisecond of) the copy."""
        copied = copy_time(copied_at)
        return tuple(sorted({user for user, when in (*self.erasures.get(guild_id, []), *self.everywhere)
                             if when >= copied}))


def _read(path: Path, receipts: Receipts, *, live: bool) -> None:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        found = conn.execute(f"SELECT id, {', '.join(RECEIPT_COLUMNS)} FROM deletion_receipts "  # noqa: S608
                             "ORDER BY id").fetchall()
        registry = conn.execute(f"SELECT {', '.join(REGISTRY_COLUMNS)} FROM guild_registry").fetchall()  # noqa: S608
    finally:
        conn.close()
    for receipt_id, *row in found:
        receipts.add(receipt_id, tuple(row))
    if live:
        receipts.registry = [tuple(r) for r in registry]


def read_receipts(root: Path, backups: Iterable[Path] = (), *, force: bool = False) -> Receipts:
    """The receipts of the live bot-wide file in `root` and of the bot-wide copies of `backups` (generations).

    A missing live file reads as none (a new disk); a copy that cannot be read is passed over.

    Raises:
        DatabaseUnreadableError: the live bot-wide file is there but cannot be read (damaged, locked, not a
            database), unless `force`: what it records since the backups cannot be honoured.
    """
    receipts = Receipts()
    live = root / BOT_FILE_NAME
    if live.exists():
        try:
            _read(live, receipts, live=True)
        except sqlite3.Error as error:
            if not force:
                raise DatabaseUnreadableError(
                    f"{live} cannot be read ({error}), so the guilds deleted and the members erased since the "
                    "backup cannot be told: move it aside and restore again (the backups' own receipts are "
                    "used then, and its copy is restored), or add --force.") from error
    seen = set()
    for generation in backups:
        copy = generation / BOT_FILE_NAME
        try:
            st = copy.stat()
        except FileNotFoundError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue  # an unchanged bot-wide file: one copy hard-linked into many backups
        seen.add((st.st_dev, st.st_ino))
        try:
            _read(copy, receipts, live=False)
        except sqlite3.Error:
            continue  # a damaged copy in an old backup: the others and the live file still count
    return receipts


def put_back(bot_file: Path, receipts: Receipts) -> int:
    """Into a bot-wide file about to be restored (a private copy of the backup's): the receipts it lacks and the
    live guild registry (newer than the copy's). Returns how many receipts were put back."""
    conn = sqlite3.connect(bot_file, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # one file, as install copies it
        conn.execute("BEGIN IMMEDIATE")
        there = {tuple(r[1:]): r[0] for r in conn.execute(
            f"SELECT id, {', '.join(RECEIPT_COLUMNS)} FROM deletion_receipts")}  # noqa: S608
        ids = set(there.values())
        missing = [(receipt_id, row) for row, receipt_id in receipts.rows.items() if row not in there]
        renumbered = []
        for receipt_id, row in missing:  # a receipt keeps its number unless another one has it
            if receipt_id in ids:
                renumbered.append(row)
                continue
            ids.add(receipt_id)
            conn.execute(f"INSERT INTO deletion_receipts (id, {', '.join(RECEIPT_COLUMNS)}) "  # noqa: S608
                         f"VALUES (?, {', '.join('?' * len(RECEIPT_COLUMNS))})", (receipt_id, *row))
        for row in sorted(renumbered, key=lambda r: str(r[7])):  # after every kept number (AUTOINCREMENT)
            conn.execute(f"INSERT INTO deletion_receipts ({', '.join(RECEIPT_COLUMNS)}) "  # noqa: S608
                         f"VALUES ({', '.join('?' * len(RECEIPT_COLUMNS))})", row)
        for entry in receipts.registry or ():
            conn.execute(f"INSERT OR REPLACE INTO guild_registry ({', '.join(REGISTRY_COLUMNS)}) "  # noqa: S608
                         f"VALUES ({', '.join('?' * len(REGISTRY_COLUMNS))})", entry)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return len(missing)
