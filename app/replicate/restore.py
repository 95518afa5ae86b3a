"""`restore --from-replica`: `litestream restore` of each file, verified, made ready like a backup's copy (what
was erased or deleted after the replica's last transaction is honoured), then put in place.

An existing file is replaced only with `force`, and then written into through SQLite (`backup.restore.install`),
so a running bot's open connection (or Litestream's own) reads the restored rows and keeps writing the file.
"""
from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from app.backup.prepare import prepare_or_refuse
from app.backup.receipts import Receipts, read_receipts
from app.backup.restore import LiveFileNewer, RestoreResult, check_not_newer, deleted_since, install, restored
from app.db.files import SIDE_FILES
from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path
from app.errors import (
    BackupInvalidError,
    ConfigurationError,
    DatabaseUnreadableError,
    FileInUseError,
    ReplicationError,
)
from app.replicate import litestream
from app.scratch import private_scratch

REPLICA_TIME_MARGIN = timedelta(seconds=1)


def replica_names(replica_url: str) -> list[str]:
    """The files a file:// replica holds (an s3:// one cannot be listed here: name a guild).

    Raises:
        ConfigurationError: an s3:// replica without --guild.
    """
    parts = urlsplit(litestream.check_replica_url(replica_url))
    if parts.scheme != "file":
        raise ConfigurationError("Name the guild (--guild ID) to restore from an s3:// replica.")
    folder = Path(parts.path)
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and (p.name == BOT_FILE_NAME or guild_id_from_path(p) is not None)) \
        if folder.is_dir() else []


def _check(copy: Path) -> None:
    """Raises:
        BackupInvalidError: the copy is not a sound database of its file (not SQLite, damaged, another guild's,
            a schema newer than this bot's).
    """
    guild_id = guild_id_from_path(Path(copy.name.removesuffix(".from-replica")))
    try:
        conn = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            meta = conn.execute("SELECT guild_id FROM guild_meta").fetchone() if guild_id is not None else (None,)
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        ok = False  # not a database, or not one of ours (no guild_meta)
    if not ok or (guild_id is not None and (meta is None or meta[0] != guild_id)):
        raise BackupInvalidError(f"The replica of {copy.name.removesuffix('.from-replica')} fails verification.")
    if guild_id is not None:
        check_not_newer(f"The replica of {copy.name.removesuffix('.from-replica')}", version)


def restore_from_replica(root: Path, replica_url: str, *, guild_id: int | None = None,
                         force: bool = False) -> list[RestoreResult]:
    """Restore every file of the replica (or one guild's) into `root`; an existing file only with `force`.

    What was recorded after a file's replica last received a transaction is honoured as a backup's restore does
    (`app/backup/prepare.py`): a guild deleted since stays deleted (unless asked for by name with `force`), the
    members erased since are erased from the copy before it is put in place. A replica follows erasures only
    while Litestream runs; a `user forget` or `guild delete` from the CLI while the bot is stopped is not in it.

    Raises:
        DatabaseUnreadableError: the live bot-wide file cannot be read (unless `force`).
    """
    names = [guild_file_name(guild_id)] if guild_id is not None else replica_names(replica_url)
    names.sort(key=lambda name: name != BOT_FILE_NAME)  # the bot-wide file first: its receipts count for the rest
    results = []
    with private_scratch("guildshelf-restore-") as scratch:
        receipts = _read_receipts(root, replica_url, scratch, force=force)
        for name in names:
            result = _restore_one(root, replica_url, name, receipts, scratch, force=force, named=guild_id is not None)
            results.append(result)
            if name == BOT_FILE_NAME and result.outcome == "restored":
                # the replica's receipts, the live ones put back in it
                receipts = _read_receipts(root, replica_url, scratch, force=force)
    return results


def _read_receipts(root: Path, replica_url: str, scratch: Path, *, force: bool) -> Receipts:
    """The live bot-wide file's receipts; if it is missing (a new disk) or cannot be read (with `force`), those
    of its replica, restored into `scratch`: a guild restored alone must not undo what the bot-wide replica
    recorded after the guild's replica (a guild deleted, a member erased while its daemon was down).

    Raises:
        DatabaseUnreadableError: the live bot-wide file cannot be read (unless `force`).
    """
    try:
        if (root / BOT_FILE_NAME).exists():
            return read_receipts(root, force=False)
    except DatabaseUnreadableError:
        if not force:
            raise
    folder = scratch / "bot-wide-replica"
    folder.mkdir(exist_ok=True)
    if not (folder / BOT_FILE_NAME).exists():
        with contextlib.suppress(ReplicationError, OSError):  # no bot-wide replica (or no room): nothing to honour
            litestream.restore(replica_url, root / BOT_FILE_NAME, folder / BOT_FILE_NAME)
    return read_receipts(root, [folder], force=True)  # a copy that cannot be read is passed over


def _as_of(replica_url: str, live: Path) -> str:
    """The replica's time for the receipts' comparison, a second early (its LTX times are to the second); "" if
    unknown, which puts every receipt after it."""
    when = litestream.replica_time(replica_url, live)
    return (when - REPLICA_TIME_MARGIN).isoformat() if when is not None else ""


def _restore_one(root: Path, replica_url: str, name: str, receipts: Receipts, scratch: Path, *, force: bool,
                 named: bool) -> RestoreResult:
    live = root / name
    if live.exists() and not force:
        return RestoreResult(name, "kept newer", "the file exists; --force replaces it")
    as_of = _as_of(replica_url, live)
    if not (force and named) and (held := deleted_since(name, as_of, receipts, named=named, source="replica")):
        return held
    copy = root / f"{name}.from-replica"
    copy.unlink(missing_ok=True)
    try:
        litestream.restore(replica_url, live, copy)
        _check(copy)
        # an older replica is migrated in the private copy, never in a running bot's file (prepare.py)
        prepared = prepare_or_refuse(copy, name, as_of, receipts, root=root, scratch=scratch,
                                     what=f"The replica of {name}")
        try:
            install(prepared.path, live, keep=None if force else live.exists)
        finally:
            if prepared.path != copy:
                prepared.path.unlink(missing_ok=True)  # one scratch copy at a time
    except LiveFileNewer:
        return RestoreResult(name, "kept newer", "the file exists; --force replaces it")
    except (ReplicationError, BackupInvalidError, FileInUseError) as error:
        detail = getattr(error, "user_message", str(error))
        return RestoreResult(name, "in use", detail) if isinstance(error, FileInUseError) \
            else RestoreResult(name, "invalid", detail)
    finally:
        for leftover in (copy, *(copy.with_name(copy.name + side) for side in SIDE_FILES)):
            leftover.unlink(missing_ok=True)  # litestream's copy is in WAL mode: reading it made side files
    return restored(name, prepared, source="replica")
