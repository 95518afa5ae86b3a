"""A verified copy made ready to restore: what was erased since is erased from it first, never after.

The backup's own copy is never changed (its SHA-256 is in the manifest, other backups may share it by hard
link): the changes go into a private scratch copy, and that is what is put in place. So the live file never
holds, even for a moment, a member erased since the backup, whatever stops the restore half-way, and a
restored bot-wide file has every receipt from its first instant. A copy of an older schema version is migrated
there too: written into a live file that a running bot has open, it would take away the tables that bot's
connection (migrated when it opened) writes to.
"""
from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from app.backup.receipts import Receipts, put_back
from app.db.files import migrate
from app.db.fleet import schema_version_of
from app.db.ids import BOT_FILE_NAME, guild_id_from_path
from app.db.schema import GUILD_SCHEMA
from app.errors import BackupInvalidError, GuildDatabaseError
from app.rights.member import plan_erasure
from app.rights.subjects import mapped_policies


@dataclass(frozen=True, slots=True)
class Prepared:
    path: Path  # what to install: the backup's copy, or a scratch copy with the changes
    erased: tuple[int, ...] = ()  # members erased again from it
    receipts_put_back: int = 0  # receipts (a bot-wide file) its copy predates, put back


def prepare(copy: Path, name: str, copied_at: str, receipts: Receipts, *, root: Path, scratch: Path) -> Prepared:
    """The file to install as `name` from the verified `copy` of it, whose content is as of `copied_at` (ISO-8601:
    a backup's copy time, a replica's last transaction); scratch copies go in the private folder `scratch`."""
    guild_id = guild_id_from_path(Path(name))
    if name == BOT_FILE_NAME:
        target = _scratch_copy(copy, scratch)
        return Prepared(target, receipts_put_back=put_back(target, receipts))
    users = receipts.erased_after(guild_id, copied_at) if guild_id is not None else ()
    older = guild_id is not None and schema_version_of(copy) < GUILD_SCHEMA.version
    if not users and not older:
        return Prepared(copy)
    target = _scratch_copy(copy, scratch)
    if older:  # written into a live file, it would take the tables of later versions from a running bot's connection
        migrate_copy(target)
    if users:
        erase_members(target, users, root)
    return Prepared(target, erased=users)


def prepare_or_refuse(copy: Path, name: str, copied_at: str, receipts: Receipts, *, root: Path, scratch: Path,
                      what: str) -> Prepared:
    """`prepare`, its failure said of `what` (the backup's copy, the replica's).

    Raises:
        BackupInvalidError: the copy cannot be brought to this bot's schema, or the erasures (or receipts) made
            since cannot be applied to it (nothing changed).
    """
    try:
        return prepare(copy, name, copied_at, receipts, root=root, scratch=scratch)
    except (sqlite3.Error, GuildDatabaseError) as error:
        raise BackupInvalidError(f"{what} could not be brought to this bot's schema, or what was erased or deleted "
                                 f"since it was made could not be applied to it ({error}), so it is not "
                                 "restored.") from error


def migrate_copy(path: Path) -> None:
    """Bring the guild file at `path` (a copy nobody else has open) to the current schema, no journal left."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # one file, as install copies it
        migrate(conn, GUILD_SCHEMA)
    finally:
        conn.close()


def _scratch_copy(copy: Path, scratch: Path) -> Path:
    target = scratch / copy.name
    target.unlink(missing_ok=True)
    shutil.copyfile(copy, target)
    return target


def erase_members(path: Path, user_ids: tuple[int, ...], root: Path) -> None:
    """Erase the members from the guild file at `path` (a copy nobody else has open), as `erase_member` does:
    one transaction, the erased values zeroed in freed pages (secure_delete), no journal left."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # one file, as install copies it
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")
        steps = plan_erasure(conn, mapped_policies(root))
        conn.execute("BEGIN IMMEDIATE")
        for user_id in user_ids:
            for step in steps:
                conn.execute(step.sql, (user_id,) * step.placeholders)
        conn.execute("COMMIT")
    finally:
        conn.close()
