"""`restore --from DIR`: verified copies back into the guild folder, in the bot's process or beside it.

Every copy is verified first (its SHA-256 against the manifest, integrity_check, the guild id of its
meta row), and a live file modified after the copy was made is newer: it is kept unless `force`.
In the bot's process the manager's exclusive hold waits for in-flight work and keeps new work waiting
while the file is swapped. From another process, a file that a running bot holds open is refused:
swapping it under a live connection would corrupt it.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from app.backup.copy import Entry, sha256_of
from app.backup.generations import read_manifest
from app.db.files import SIDE_FILES
from app.db.ids import guild_file_name, guild_id_from_path
from app.db.manager import GuildDatabaseManager
from app.errors import BackupInvalidError, FileInUseError, NotFoundError
from app.rights.atomic import fsync_path

Outcome = Literal["restored", "kept newer", "in use", "invalid"]
_IN_USE_WAIT_S = 0.2


@dataclass(frozen=True, slots=True)
class RestoreResult:
    name: str
    outcome: Outcome
    detail: str = ""


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


def install(copy: Path, live: Path) -> None:
    """Put the copy in place of the live file (its old -wal and -shm go; the copy is complete on its own)."""
    partial = live.with_name(live.name + ".restoring")
    shutil.copyfile(copy, partial)
    with partial.open("rb+") as f:
        os.fsync(f.fileno())
    for suffix in SIDE_FILES:
        live.with_name(live.name + suffix).unlink(missing_ok=True)
    os.replace(partial, live)
    fsync_path(live.parent)


def ensure_not_in_use(live: Path) -> None:
    """Raises:
        FileInUseError: another process (a running bot) has the file open.
    """
    if not live.exists():
        return
    conn = sqlite3.connect(f"{live.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                           timeout=_IN_USE_WAIT_S)
    try:
        # in WAL mode every open connection holds a shared lock on the file: this fails if any does
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as error:
        raise FileInUseError(f"{live.name} is open in another process (a running bot): stop that process "
                             "(or the one serving this guild's shard block), then restore again.") from error
    finally:
        conn.close()


def _entries(generation: Path, guild_id: int | None) -> list[Entry]:
    manifest = read_manifest(generation)
    if guild_id is None:
        return list(manifest.values())
    entry = manifest.get(guild_file_name(guild_id))
    if entry is None:
        raise NotFoundError(f"The backup {generation} has no file of guild {guild_id}.")
    return [entry]


def restore_files(root: Path, generation: Path, *, guild_id: int | None = None,
                  force: bool = False) -> list[RestoreResult]:
    """From a process that does not run the bot: restore every file (or one guild's) of `generation`."""
    results = []
    for entry in _entries(generation, guild_id):
        live, copy = root / entry.name, generation / entry.name
        try:
            verify(copy, entry)
            if not force and is_newer(live, entry):
                results.append(RestoreResult(entry.name, "kept newer", "modified after the backup; --force"))
                continue
            ensure_not_in_use(live)
            install(copy, live)
        except BackupInvalidError as error:
            results.append(RestoreResult(entry.name, "invalid", error.user_message))
            continue
        except FileInUseError as error:
            results.append(RestoreResult(entry.name, "in use", error.user_message))
            continue
        results.append(RestoreResult(entry.name, "restored"))
    return results


async def restore_guild(manager: GuildDatabaseManager, generation: Path, guild_id: int, *,
                        force: bool = False) -> RestoreResult:
    """In the bot's process: restore one guild under the manager's exclusive hold.

    Raises:
        NotFoundError: the backup has no file of this guild.
        WrongShardError: the guild is not on this process's shards.
        BackupInvalidError: the copy fails verification (nothing changed).
    """
    if manager.shards is not None:
        manager.shards.check(guild_id)
    entry = _entries(generation, guild_id)[0]
    copy = generation / entry.name
    await asyncio.to_thread(verify, copy, entry)
    async with manager.exclusive(guild_id) as live:
        if not force and is_newer(live, entry):
            return RestoreResult(entry.name, "kept newer", "modified after the backup; use force")
        await asyncio.to_thread(install, copy, live)
    return RestoreResult(entry.name, "restored")
