"""Guild deletion: the file and its side files go, a receipt is written, nothing old comes back.

Removal renames the file and then its side files to tombstone names (so the
real name is free of every piece at once on disk), syncs the directory, then
unlinks the tombstones. A crash in between leaves tombstones that
`finish_interrupted_deletions` clears, including a stale `-wal` that would
otherwise be replayed into the next, fresh file of that guild.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from app.db.connection import BotDb
from app.db.files import QUARANTINE_INFIX, SIDE_FILES
from app.db.fleet import file_size, table_counts
from app.db.ids import validate_guild_id
from app.db.manager import GuildDatabaseManager
from app.errors import FileInUseError, NotFoundError, RateLimitedError
from app.rights.atomic import fsync_path
from app.rights.legacy_copies import erase_from_copies_async
from app.rights.receipts import Receipt, create_receipt, delete_receipt, fetch_last_deletion, restamp_now
from app.shared.publish import forget_published_server

log = logging.getLogger(__name__)

_TOMBSTONE = ".deleting-"
_IN_USE_WAIT_S = 1.0
_NOT_A_DATABASE = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


@dataclass(frozen=True, slots=True)
class GuildDeletion:
    guild_id: int
    bytes_deleted: int
    rows_deleted: int
    receipt: Receipt
    set_aside: tuple[str, ...] = ()  # damaged copies of the file set aside earlier, removed too
    legacy_files: dict[str, int] = field(default_factory=dict)  # kept legacy files -> rows erased

    def as_dict(self) -> dict[str, object]:
        return {"guild_id": self.guild_id, "bytes_deleted": self.bytes_deleted,
                "rows_deleted": self.rows_deleted, "receipt": self.receipt.as_dict(),
                "set_aside_removed": list(self.set_aside), "legacy_files": self.legacy_files}


class GuildFileAccess(Protocol):
    """One guild's file, bound to its id: what deletion needs, and nothing that reaches other guilds.

    The bot's `GuildFiles` (bound to ctx.guild_id) has this shape; so does `bind(manager, guild_id)`.
    """

    @property
    def guild_id(self) -> int: ...

    def exclusive(self) -> AbstractAsyncContextManager[Path]: ...

    def connect_bot(self) -> AbstractAsyncContextManager[BotDb]: ...


class _BoundGuild:
    """The manager seen through one guild id (operator and retention paths)."""

    __slots__ = ("_manager", "guild_id")

    def __init__(self, manager: GuildDatabaseManager, guild_id: int) -> None:
        self._manager = manager
        self.guild_id = validate_guild_id(guild_id)

    def exclusive(self) -> AbstractAsyncContextManager[Path]:
        return self._manager.exclusive(self.guild_id)

    def connect_bot(self) -> AbstractAsyncContextManager[BotDb]:
        return self._manager.connect_bot()


def bind(manager: GuildDatabaseManager, guild_id: int) -> GuildFileAccess:
    return _BoundGuild(manager, guild_id)


async def delete_guild(manager: GuildDatabaseManager, guild_id: int, *, requested_by: str, reason: str,
                       still_wanted: Callable[[BotDb], Awaitable[None]] | None = None) -> GuildDeletion:
    """Delete a guild's file once its in-flight work is done; new work waits, then starts empty.

    Raises:
        NotFoundError: the guild has no file (nothing is recorded).
        FileInUseError: another process (a running bot) has the file open.
    """
    return await delete_guild_files(bind(manager, guild_id), requested_by=requested_by, reason=reason,
                                    still_wanted=still_wanted)


async def delete_guild_files(access: GuildFileAccess, *, requested_by: str, reason: str,
                             still_wanted: Callable[[BotDb], Awaitable[None]] | None = None) -> GuildDeletion:
    """`delete_guild` for a caller that holds only its own guild (a slash command).

    `still_wanted(bot_db)`, if given, runs once the guild is held, before anything changes, and raises
    to call the deletion off: what it checks (the retention purge: the bot was not added back) may
    have changed while the hold waited for the guild's work.

    Raises:
        NotFoundError: the guild has no file (nothing is recorded).
        FileInUseError: another process has the file open.
    """
    guild_id = access.guild_id
    async with access.exclusive() as path:
        if still_wanted is not None:
            async with access.connect_bot() as bot_db:
                await still_wanted(bot_db)
        await asyncio.to_thread(finish_interrupted_deletions, path.parent, path.name)
        set_aside = set_aside_copies(path)
        exists = path.exists()
        # measured before the lock: locking an empty file writes its first page, a WAL file's lock makes a -shm
        size = (file_size(path) if exists else 0) + sum(file_size(p) for p in set_aside)
        rows = await asyncio.to_thread(lock_and_count, path) if exists else 0
        async with access.connect_bot() as bot_db:
            receipt = await create_receipt(bot_db, scope="guild", guild_id=guild_id,
                                           requested_by=requested_by, reason=reason,
                                           bytes_deleted=size, rows_deleted=rows)
            try:
                if exists or set_aside:
                    # before the files: killed after them, a rerun would find nothing to delete and
                    # the server's name and figures would stay published across servers
                    await forget_published_server(path.parent, guild_id, datetime.now(UTC))
                if exists:
                    await asyncio.to_thread(remove_guild_files, path)
                for copy in set_aside:
                    await asyncio.to_thread(remove_guild_files, copy)
                legacy = await erase_from_copies_async(path.parent, guild_id=guild_id)
            except Exception:
                if path.exists():  # nothing was deleted: no deletion to record
                    await delete_receipt(bot_db, receipt.id)
                raise
            if not (exists or set_aside or legacy):
                await delete_receipt(bot_db, receipt.id)
                raise NotFoundError(f"Server {guild_id} has no data file in {path.parent}; nothing to delete.")
            # dated when the files are gone: written before them (a kill leaves a receipt), it would predate a backup
            # that started in between and still copied the file, and a restore would take that copy for newer
            receipt = await restamp_now(bot_db, receipt)
    if not (exists or set_aside):  # only the legacy copies held the server: its cross-server figures too
        await forget_published_server(path.parent, guild_id, datetime.now(UTC))
    log.info("deleted guild %s's file (%d bytes, %d rows), receipt %d, asked by %s; also %s",
             guild_id, size, rows, receipt.id, requested_by, [p.name for p in set_aside] + list(legacy))
    return GuildDeletion(guild_id, size, rows + sum(legacy.values()), receipt,
                         tuple(p.name for p in set_aside), legacy)


def set_aside_copies(path: Path) -> list[Path]:
    """Damaged copies of a guild's file that opening it set aside (`<id>.sqlite3.quarantined-<stamp>`)."""
    return sorted(p for p in path.parent.glob(f"{path.name}{QUARANTINE_INFIX}*")
                  if not p.name.endswith(SIDE_FILES))


async def check_deletion_cooldown(access: GuildFileAccess, *, seconds: float,
                                  now: datetime | None = None) -> None:
    """Refuse a new deletion of the guild's file within `seconds` of the last one (from the receipts).

    Raises:
        RateLimitedError: the last deletion was too recent; the message says when to retry.
    """
    async with access.connect_bot() as bot_db:
        last = await fetch_last_deletion(bot_db, access.guild_id)
    if last is None:
        return
    left = last.timestamp() + seconds - (now or datetime.now(UTC)).timestamp()
    if left > 0:
        minutes = math.ceil(left / 60)
        raise RateLimitedError(f"This server's data was deleted a moment ago; try again in {minutes} "
                               f"minute{'s' if minutes != 1 else ''}.")


def lock_and_count(path: Path) -> int:
    """Rows in the file (guild_meta aside), read under an exclusive lock no other process holds.

    Raises:
        FileInUseError: another connection (another process) has the file open.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                           timeout=_IN_USE_WAIT_S)
    try:
        # in WAL mode every open connection holds a shared lock on the file: this fails if any does
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        counts = table_counts(conn)
        conn.execute("COMMIT")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
        raise FileInUseError(
            f"{path.name} is open in another process (a running bot?): delete it from Discord with "
            "/server-data delete, or stop that process and run this again.") from None
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorcode", None) not in _NOT_A_DATABASE:
            raise
        log.warning("%s is not a readable database; deleting it without a row count", path.name)
        return 0
    finally:
        conn.close()
    return sum(n for table, n in counts.items() if table != "guild_meta")


def _tombstone(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TOMBSTONE}{secrets.token_hex(4)}")


def remove_guild_files(path: Path) -> None:
    """Rename the file, then its side files, to tombstones; sync; unlink the tombstones."""
    tomb = _tombstone(path)
    os.rename(path, tomb)
    moved = [tomb]
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        try:
            os.rename(side, tomb.with_name(tomb.name + suffix))
        except FileNotFoundError:
            continue
        moved.append(tomb.with_name(tomb.name + suffix))
    fsync_path(path.parent)  # from here on, nothing of the old file is under the real name
    for item in moved:
        item.unlink(missing_ok=True)
    fsync_path(path.parent)


def finish_interrupted_deletions(root: Path, name: str | None = None) -> list[str]:
    """Complete deletions a crash interrupted: drop tombstones and the side files they left behind.

    Call for the whole folder before the bot opens any guild file (startup); deletion
    calls it for its own guild (`name`), never touching another guild's deletion in progress.
    """
    if not root.is_dir():
        return []
    finished = []
    for tomb in root.glob(f".{name or '*.sqlite3'}{_TOMBSTONE}*"):
        real = root / tomb.name[1:tomb.name.index(_TOMBSTONE)]
        if not real.exists():
            for suffix in SIDE_FILES:
                real.with_name(real.name + suffix).unlink(missing_ok=True)
        tomb.unlink(missing_ok=True)
        finished.append(real.name)
    if finished:
        fsync_path(root)
        log.warning("finished interrupted deletions of %s", ", ".join(sorted(set(finished))))
    return finished
