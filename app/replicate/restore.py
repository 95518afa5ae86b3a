"""`restore --from-replica`: `litestream restore` of each file, verified, then put in place like a backup.

An existing file is replaced only with `force`, and then written into through SQLite (`backup.restore.install`),
so a running bot's open connection (or Litestream's own) reads the restored rows and keeps writing the file.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from app.backup.prepare import migrate_if_older
from app.backup.restore import LiveFileNewer, RestoreResult, check_not_newer, install
from app.db.files import SIDE_FILES
from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path
from app.errors import BackupInvalidError, ConfigurationError, FileInUseError, GuildDatabaseError, ReplicationError
from app.replicate import litestream


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
    conn = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        guild_id = guild_id_from_path(Path(copy.name.removesuffix(".from-replica")))
        meta = conn.execute("SELECT guild_id FROM guild_meta").fetchone() if guild_id is not None else (None,)
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()
    if not ok or (guild_id is not None and (meta is None or meta[0] != guild_id)):
        raise BackupInvalidError(f"The replica of {copy.name.removesuffix('.from-replica')} fails verification.")
    if guild_id is not None:
        check_not_newer(f"The replica of {copy.name.removesuffix('.from-replica')}", version)


def _migrate(copy: Path, name: str) -> None:
    """Raises:
        BackupInvalidError: the replica's copy of an older schema cannot be migrated (nothing is put in place).
    """
    try:
        migrate_if_older(copy)
    except (sqlite3.Error, GuildDatabaseError) as error:
        raise BackupInvalidError(f"The replica of {name} is of an older schema that could not be brought to this "
                                 f"bot's ({error}), so it is not restored.") from error


def restore_from_replica(root: Path, replica_url: str, *, guild_id: int | None = None,
                         force: bool = False) -> list[RestoreResult]:
    """Restore every file of the replica (or one guild's) into `root`; an existing file only with `force`."""
    names = [guild_file_name(guild_id)] if guild_id is not None else replica_names(replica_url)
    results = []
    for name in names:
        live = root / name
        if live.exists() and not force:
            results.append(RestoreResult(name, "kept newer", "the file exists; --force replaces it"))
            continue
        copy = root / f"{name}.from-replica"
        copy.unlink(missing_ok=True)
        try:
            litestream.restore(replica_url, live, copy)
            _check(copy)
            if name != BOT_FILE_NAME:  # an older replica: migrated here, not in a running bot's file (prepare.py)
                _migrate(copy, name)
            install(copy, live, keep=None if force else live.exists)
        except LiveFileNewer:
            results.append(RestoreResult(name, "kept newer", "the file exists; --force replaces it"))
            continue
        except (ReplicationError, BackupInvalidError, FileInUseError) as error:
            detail = getattr(error, "user_message", str(error))
            results.append(RestoreResult(name, "in use", detail) if isinstance(error, FileInUseError)
                           else RestoreResult(name, "invalid", detail))
            continue
        finally:
            for leftover in (copy, *(copy.with_name(copy.name + side) for side in SIDE_FILES)):
                leftover.unlink(missing_ok=True)  # litestream's copy is in WAL mode: reading it made side files
        results.append(RestoreResult(name, "restored"))
    return results
