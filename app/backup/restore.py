"""`restore --from DIR`: verified copies back into the guild folder, in the bot's process or beside it.

Every copy is verified first (its SHA-256 against the manifest, integrity_check, the guild id of its
meta row), and a live file modified after the copy was made is newer: it is kept unless `force`. A guild
deleted after its copy was made (a deletion receipt in the live bot-wide file, read before anything is
restored) stays deleted unless `force`, and a member erased from a guild after its copy was made is erased
again from the restored file: a restore never quietly undoes a deletion or an erasure.

The copy is never renamed over a live file (a bot that has it open would go on writing the unlinked
inode). A missing file is created whole and linked into place (atomic; a file the bot creates meanwhile
wins, and is then written into). An existing one is written INTO with SQLite's backup API
(`app/db/writeback.py`): one write transaction of the file, under SQLite's own locks, so a bot connection
open on it, in this process or another, reads the restored rows from its next transaction and its later
writes land in the file. "Newer" is decided again under that write lock, so no commit slips in between.
A file another connection is writing is refused at once ("in use"), never waited for. A copy whose page
size differs from the file's cannot go through WAL: it is written back journaled, which needs the file
to itself (else "in use" too).
"""
from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from app.backup.copy import Entry, sha256_of
from app.backup.generations import read_manifest
from app.db import writeback
from app.db.files import create_whole
from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path
from app.db.manager import GuildDatabaseManager
from app.errors import BackupInvalidError, FileInUseError, NotFoundError
from app.rights.atomic import fsync_path
from app.rights.member import erase_member

Outcome = Literal["restored", "kept newer", "in use", "invalid", "deleted"]
_IN_USE_WAIT_S = 0.2


@dataclass(frozen=True, slots=True)
class RestoreResult:
    name: str
    outcome: Outcome
    detail: str = ""
    erase_again: tuple[int, ...] = ()  # members erased from this guild after its copy was made


@dataclass(frozen=True, slots=True)
class Receipts:
    """What the live bot-wide file records, read before anything is restored (the restore may replace it)."""

    deletions: dict[int, datetime]  # guild -> when its file was last deleted
    erasures: dict[int, list[tuple[int, datetime]]]  # guild -> (member, when) of each member erasure


def verify(copy: Path, entry: Entry) -> None:
    """Raises:
        BackupInvalidError: the copy is missing, altered, damaged, or of another guild.
    """
    if not copy.is_file():
        raise BackupInvalidError(f"{copy.name} is listed in the manifest but missing from {copy.parent}.")
    if sha256_of(copy) != entry.sha256:
        raise BackupInvalidError(f"{copy.name} in {copy.parent} does not match its SHA-256 in the manifest.")
    conn = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        guild_id = guild_id_from_path(copy)
        meta = conn.execute("SELECT guild_id FROM guild_meta").fetchone() if guild_id is not None else None
    except sqlite3.DatabaseError as error:
        raise BackupInvalidError(f"{copy.name} in {copy.parent} is not a readable database: {error}.") from error
    finally:
        conn.close()
    if rows != ["ok"]:
        raise BackupInvalidError(f"{copy.name} in {copy.parent} fails integrity_check: {'; '.join(rows[:3])}.")
    if guild_id is not None and (meta is None or meta[0] != guild_id):
        raise BackupInvalidError(f"{copy.name} in {copy.parent} holds the data of guild {meta and meta[0]}.")


def is_newer(live: Path, entry: Entry) -> bool:
    """The live file (or its -wal) was modified after the copy was made."""
    copied = datetime.fromisoformat(entry.copied_at).timestamp()
    stamps = []
    for path in (live, live.with_name(live.name + "-wal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_size or path == live:  # an empty -wal (made by a reader, the backup's own) changes nothing
            stamps.append(st.st_mtime)
    return bool(stamps) and max(stamps) > copied


class LiveFileNewer(Exception):
    """The live file was modified after the copy was made (found under its write lock)."""


def install(copy: Path, live: Path, *, keep: Callable[[], bool] | None = None) -> None:
    """Put the verified copy's content in the live file, beside any process that has it open.

    `keep`, if given, is asked once no other connection can commit to the live file any more: True
    leaves the file as it is.

    Raises:
        LiveFileNewer: `keep` said so (nothing changed).
        FileInUseError: another connection is writing the file (nothing changed).
        BackupInvalidError: the live file is too damaged for SQLite to write into.
    """
    def fill(out: BinaryIO) -> None:
        with copy.open("rb") as source:
            shutil.copyfileobj(source, out)

    if create_whole(live, fill):
        fsync_path(live.parent)
        return
    _write_into(copy, live, keep)


def _write_into(copy: Path, live: Path, keep: Callable[[], bool] | None) -> None:
    def check() -> None:
        if keep is not None and keep():
            raise LiveFileNewer

    source = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(f"{live.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                             timeout=_IN_USE_WAIT_S)
    try:
        target.execute("PRAGMA synchronous = FULL")  # the commit is on disk when restore says "restored"
        if source.execute("PRAGMA page_size").fetchone()[0] == target.execute("PRAGMA page_size").fetchone()[0]:
            writeback.copy_pages(source, target, under_lock=check)
            return
        writeback.hold_alone(target)
        check()
        with writeback.rollback_journal(target, live):
            writeback.copy_pages(source, target)
    except writeback.TargetBusy:
        raise FileInUseError(f"{live.name} is being written by another process (a running bot): try again "
                             "in a moment, or stop that process first.") from None
    except (writeback.FileShared, writeback.JournalModeStuck):
        raise _needs_the_file_alone(live) from None
    except sqlite3.DatabaseError as error:
        if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF not in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            raise
        raise BackupInvalidError(f"{live.name} is too damaged to be written into: move it aside (the bot sets "
                                 "such files aside when it opens them), then restore again.") from error
    finally:
        target.close()
        source.close()


def _needs_the_file_alone(live: Path) -> FileInUseError:
    return FileInUseError(f"{live.name} has another page size than the backup's, which needs the file to itself, "
                          "and another process (a running bot) has it open: stop that process (or the one "
                          "serving this guild's shard block), then restore again.")


def _entries(generation: Path, guild_id: int | None) -> list[Entry]:
    manifest = read_manifest(generation)
    if guild_id is None:
        return list(manifest.values())
    entry = manifest.get(guild_file_name(guild_id))
    if entry is None:
        raise NotFoundError(f"The backup {generation} has no file of guild {guild_id}.")
    return [entry]


def read_receipts(root: Path) -> Receipts:
    """The deletions and member erasures the live bot-wide file records (none if it is missing or unreadable)."""
    bot_file = root / BOT_FILE_NAME
    receipts = Receipts({}, {})
    if not bot_file.is_file():
        return receipts
    conn = sqlite3.connect(f"{bot_file.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = conn.execute("SELECT scope, guild_id, user_id, deleted_at FROM deletion_receipts "
                            "WHERE scope = 'guild' OR (scope = 'member' AND user_id IS NOT NULL)").fetchall()
    except sqlite3.DatabaseError:
        return receipts  # a damaged bot-wide file is restored too; its receipts cannot be read
    finally:
        conn.close()
    for scope, guild_id, user_id, at in rows:
        when = datetime.fromisoformat(at)
        if scope == "guild":
            receipts.deletions[guild_id] = max(when, receipts.deletions.get(guild_id, when))
        else:
            receipts.erasures.setdefault(guild_id, []).append((int(user_id), when))
    return receipts


def deleted_since(entry: Entry, receipts: Receipts) -> RestoreResult | None:
    """The outcome "deleted" if the copy's guild was deleted after the copy was made."""
    guild_id = guild_id_from_path(Path(entry.name))
    deleted = receipts.deletions.get(guild_id) if guild_id is not None else None
    if deleted is None or deleted <= datetime.fromisoformat(entry.copied_at):
        return None
    return RestoreResult(entry.name, "deleted", f"deleted after this backup ({deleted:%Y-%m-%d %H:%M} UTC, see "
                                                "`guild receipts`); --force brings it back")


def restored(entry: Entry, receipts: Receipts) -> RestoreResult:
    """The outcome "restored", with the members erased from the guild after the copy was made, to erase again."""
    guild_id = guild_id_from_path(Path(entry.name))
    copied = datetime.fromisoformat(entry.copied_at)
    users = sorted({u for u, when in receipts.erasures.get(guild_id or 0, []) if when > copied})
    if not users:
        return RestoreResult(entry.name, "restored")
    return RestoreResult(entry.name, "restored", f"{len(users)} member erasure{'s' if len(users) > 1 else ''} "
                                                 "made since the backup applied again", tuple(users))


async def erase_again(manager: GuildDatabaseManager, results: list[RestoreResult]) -> None:
    """Erase from each restored file the members erased from it after its copy was made (no new receipt:
    the erasure's own stands)."""
    for result in results:
        guild_id = guild_id_from_path(Path(result.name))
        if guild_id is None or not result.erase_again:
            continue
        async with manager.connect(guild_id) as db:
            for user_id in result.erase_again:
                await erase_member(db, user_id)


def restore_files(root: Path, generation: Path, *, guild_id: int | None = None,
                  force: bool = False) -> list[RestoreResult]:
    """From a process that does not run the bot: restore every file (or one guild's) of `generation`."""
    results = []
    receipts = read_receipts(root)
    for entry in _entries(generation, guild_id):
        live, copy = root / entry.name, generation / entry.name
        if not force and (held_back := deleted_since(entry, receipts)) is not None:
            results.append(held_back)
            continue
        try:
            verify(copy, entry)
            if not force and is_newer(live, entry):
                raise LiveFileNewer
            install(copy, live, keep=None if force else lambda: is_newer(live, entry))  # noqa: B023 (called here)
        except LiveFileNewer:
            results.append(RestoreResult(entry.name, "kept newer", "modified after the backup; --force"))
            continue
        except BackupInvalidError as error:
            results.append(RestoreResult(entry.name, "invalid", error.user_message))
            continue
        except FileInUseError as error:
            results.append(RestoreResult(entry.name, "in use", error.user_message))
            continue
        results.append(restored(entry, receipts))
    return results


async def restore_guild(manager: GuildDatabaseManager, generation: Path, guild_id: int, *,
                        force: bool = False) -> RestoreResult:
    """In the bot's process: restore one guild under the manager's exclusive hold.

    Raises:
        NotFoundError: the backup has no file of this guild.
        WrongShardError: the guild is not on this process's shards.
        BackupInvalidError: the copy fails verification (nothing changed).
        FileInUseError: another process is writing the file (nothing changed).
    """
    if manager.shards is not None:
        manager.shards.check(guild_id)
    entry = _entries(generation, guild_id)[0]
    receipts = await asyncio.to_thread(read_receipts, manager.root)
    if not force and (held_back := deleted_since(entry, receipts)):
        return held_back
    copy = generation / entry.name
    await asyncio.to_thread(verify, copy, entry)
    async with manager.exclusive(guild_id) as live:
        try:
            await asyncio.to_thread(install, copy, live, keep=None if force else lambda: is_newer(live, entry))
        except LiveFileNewer:
            return RestoreResult(entry.name, "kept newer", "modified after the backup; use force")
    result = restored(entry, receipts)
    await erase_again(manager, [result])
    return result
