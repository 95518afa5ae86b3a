"""`restore --from DIR`: verified copies back into the guild folder, in the bot's process or beside it.

Every copy is verified first (its SHA-256 against the manifest, integrity_check, the guild id of its
meta row), and a live file modified after the copy was made is newer: it is kept unless `force`. The
receipts are read before anything is restored (`app/backup/receipts.py`: the live bot-wide file's and the
backups' own). A guild deleted after its copy was made stays deleted; `force` brings it back only when the
restore names it. A member erased from a guild after its copy was made is erased from a private copy of it
before it is put in place, and a restored bot-wide file keeps the receipts and the guild registry newer than
its copy (`app/backup/prepare.py`): a restore never quietly undoes a deletion or an erasure.

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
from pathlib import Path
from typing import BinaryIO, Literal

from app.backup.copy import Entry, sha256_of
from app.backup.generations import generations, read_manifest
from app.backup.prepare import Prepared, prepare_or_refuse
from app.backup.receipts import Receipts, copy_time, read_receipts
from app.db import writeback
from app.db.files import create_whole
from app.db.ids import guild_file_name, guild_id_from_path
from app.db.manager import GuildDatabaseManager
from app.db.schema import GUILD_SCHEMA
from app.errors import BackupInvalidError, FileInUseError, NotFoundError
from app.rights.atomic import fsync_path
from app.scratch import private_scratch, sweep_stale

Outcome = Literal["restored", "unchanged", "kept newer", "in use", "invalid", "deleted"]
_IN_USE_WAIT_S = 0.2


@dataclass(frozen=True, slots=True)
class RestoreResult:
    name: str
    outcome: Outcome
    detail: str = ""
    erase_again: tuple[int, ...] = ()  # members erased from this guild after its copy was made: erased from it


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
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as error:
        raise BackupInvalidError(f"{copy.name} in {copy.parent} is not a readable database: {error}.") from error
    finally:
        conn.close()
    if rows != ["ok"]:
        raise BackupInvalidError(f"{copy.name} in {copy.parent} fails integrity_check: {'; '.join(rows[:3])}.")
    if guild_id is not None and (meta is None or meta[0] != guild_id):
        raise BackupInvalidError(f"{copy.name} in {copy.parent} holds the data of guild {meta and meta[0]}.")
    if guild_id is not None:
        check_not_newer(copy.name, version)


def check_not_newer(name: str, version: int) -> None:
    """Raises:
        BackupInvalidError: the guild copy was written by a newer bot, which this bot refuses to open.
    """
    if version > GUILD_SCHEMA.version:
        raise BackupInvalidError(f"{name} has schema version {version}, newer than this bot's "
                                 f"{GUILD_SCHEMA.version} (the backup was made by a newer bot): restore it with "
                                 "that version of the bot.")


def is_newer(live: Path, entry: Entry) -> bool:
    """The live file (or its -wal) was modified after the copy was made."""
    copied = copy_time(entry.copied_at).timestamp()
    stamps = []
    for path in (live, live.with_name(live.name + "-wal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_size or path == live:  # an empty -wal (made by a reader, the backup's own) changes nothing
            stamps.append(st.st_mtime)
    return bool(stamps) and max(stamps) > copied


def same_as_copy(live: Path, prepared: Path) -> bool:
    """The live file holds exactly the bytes of what a restore puts in place (the backup's copy, or the private
    copy prepared from it), nothing pending in a -wal: a restore of it ran already."""
    wal = live.with_name(live.name + "-wal")
    try:
        return (not wal.exists() or wal.stat().st_size == 0) and live.stat().st_size == prepared.stat().st_size \
            and sha256_of(live) == sha256_of(prepared)
    except FileNotFoundError:
        return False


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


def backups_beside(generation: Path) -> list[Path]:
    """`generation` and the other backups in its folder: their bot-wide copies hold receipts too."""
    return list(dict.fromkeys([*generations(generation.parent), generation]))


def deleted_since(name: str, copied_at: str, receipts: Receipts, *, named: bool,
                  source: str = "backup") -> RestoreResult | None:
    """The outcome "deleted" if the copy's guild was deleted after the copy was made (`named`: the restore
    asked for this guild alone, where --force brings it back; `source`: "backup" or "replica")."""
    guild_id = guild_id_from_path(Path(name))
    deleted = receipts.deleted_after(guild_id, copied_at) if guild_id is not None else None
    if deleted is None:
        return None
    how = "--force brings it back" if named else f"restore it alone (--guild {guild_id} --force) to bring it back"
    return RestoreResult(name, "deleted", f"deleted after this {source} ({deleted:%Y-%m-%d %H:%M:%S} UTC, "
                                          f"see `guild receipts`); {how}")


def restored(name: str, prepared: Prepared, source: str = "backup") -> RestoreResult:
    """The outcome "restored", saying what was erased again or put back."""
    notes = []
    if prepared.erased:
        n = len(prepared.erased)
        notes.append(f"{n} member erasure{'s' if n > 1 else ''} made since the {source} applied again")
    if prepared.receipts_put_back:
        n = prepared.receipts_put_back
        notes.append(f"{n} deletion receipt{'s' if n > 1 else ''} newer than the {source} kept")
    return RestoreResult(name, "restored", "; ".join(notes), prepared.erased)


def _restore_one(root: Path, generation: Path, entry: Entry, receipts: Receipts, scratch: Path, *,
                 force: bool) -> RestoreResult:
    live, copy = root / entry.name, generation / entry.name
    try:
        verify(copy, entry)
        prepared = _prepare(copy, entry, receipts, root, scratch)
        try:
            if not force and is_newer(live, entry):
                if same_as_copy(live, prepared.path):  # what this restore puts in place: erasures applied again
                    return RestoreResult(entry.name, "unchanged", "already as in this backup")
                raise LiveFileNewer
            install(prepared.path, live, keep=None if force else lambda: is_newer(live, entry))
        finally:
            if prepared.path != copy:
                prepared.path.unlink(missing_ok=True)  # a whole restore keeps one scratch copy at a time
    except LiveFileNewer:
        return RestoreResult(entry.name, "kept newer", "modified after the backup; --force")
    except BackupInvalidError as error:
        return RestoreResult(entry.name, "invalid", error.user_message)
    except FileInUseError as error:
        return RestoreResult(entry.name, "in use", error.user_message)
    return restored(entry.name, prepared)


def _prepare(copy: Path, entry: Entry, receipts: Receipts, root: Path, scratch: Path) -> Prepared:
    return prepare_or_refuse(copy, entry.name, entry.copied_at, receipts, root=root, scratch=scratch,
                             what=f"{copy.name} in {copy.parent}")


def restore_files(root: Path, generation: Path, *, guild_id: int | None = None,
                  force: bool = False) -> list[RestoreResult]:
    """From a process that does not run the bot: restore every file (or one guild's) of `generation`.

    A guild deleted since the copy stays deleted; `force` brings it back only when it is asked for by name.

    Raises:
        NotFoundError: `guild_id` is not in the backup.
        DatabaseUnreadableError: the live bot-wide file cannot be read (unless `force`).
    """
    entries = _entries(generation, guild_id)
    receipts = read_receipts(root, backups_beside(generation), force=force)
    results = []
    with private_scratch("guildshelf-restore-") as scratch:
        for entry in entries:
            if not (force and guild_id is not None) and (held := deleted_since(entry.name, entry.copied_at, receipts,
                                                                               named=guild_id is not None)):
                results.append(held)
                continue
            results.append(_restore_one(root, generation, entry, receipts, scratch, force=force))
    return results


async def restore_guild(manager: GuildDatabaseManager, generation: Path, guild_id: int, *,
                        force: bool = False) -> RestoreResult:
    """In the bot's process: restore one guild under the manager's exclusive hold.

    Raises:
        NotFoundError: the backup has no file of this guild.
        WrongShardError: the guild is not on this process's shards.
        BackupInvalidError: the copy fails verification (nothing changed).
        FileInUseError: another process is writing the file (nothing changed).
        DatabaseUnreadableError: the bot-wide file cannot be read (unless `force`).
    """
    if manager.shards is not None:
        manager.shards.check(guild_id)
    entry = _entries(generation, guild_id)[0]
    receipts = await asyncio.to_thread(read_receipts, manager.root, backups_beside(generation), force=force)
    if not force and (held_back := deleted_since(entry.name, entry.copied_at, receipts, named=True)):
        return held_back
    copy = generation / entry.name
    await asyncio.to_thread(verify, copy, entry)
    await asyncio.to_thread(sweep_stale)
    with private_scratch("guildshelf-restore-", sweep=False) as scratch:
        prepared = await asyncio.to_thread(_prepare, copy, entry, receipts, manager.root, scratch)
        async with manager.exclusive(guild_id) as live:
            try:
                await asyncio.to_thread(install, prepared.path, live,
                                        keep=None if force else lambda: is_newer(live, entry))
            except LiveFileNewer:
                if await asyncio.to_thread(same_as_copy, live, prepared.path):
                    return RestoreResult(entry.name, "unchanged", "already as in this backup")
                return RestoreResult(entry.name, "kept newer", "modified after the backup; use force")
    return restored(entry.name, prepared)
