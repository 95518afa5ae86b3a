"""What the operator commands check about one guild's file before using it, read-only."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from app.db.fleet import recorded_guild
from app.db.schema import GUILD_SCHEMA
from app.errors import InvalidInputError, UserFacingError

META = GUILD_SCHEMA.meta_table


def require_not_folder(path: Path) -> None:
    """Refuse a folder named like a guild file, which no command can use.

    Raises:
        UserFacingError: `path` exists and is not a file.
    """
    if path.exists() and not path.is_file():
        raise UserFacingError(f"{path} is not a file (a folder named like a guild file?); nothing was changed.")


def identity_problem(path: Path, guild_id: int) -> str | None:
    """Why the file at `path` is not `guild_id`'s database (its meta row says so), or None.

    A file SQLite cannot read at all is left to the integrity check, which says why.
    """
    try:
        recorded = recorded_guild(path)
    except sqlite3.OperationalError as error:
        if str(error).startswith("no such "):
            return f"is not a guild database (no {META} table)"
        return None
    except sqlite3.DatabaseError:
        return None
    if recorded is None:
        return f"is not a guild database (no {META} row)"
    if recorded != guild_id:
        return f"records guild {recorded}, not {guild_id}"
    return None


def require_own_file(path: Path, guild_id: int) -> None:
    """Refuse a file that is not this guild's database (copied under another guild's name, foreign, empty).

    Raises:
        UserFacingError: it is not.
    """
    require_not_folder(path)
    problem = identity_problem(path, guild_id) if path.is_file() else None
    if problem is not None:
        raise UserFacingError(f"{path.name} {problem}: it is not server {guild_id}'s file, so nothing is shown "
                              "(the bot sets such a file aside when it opens it).")


def require_writable_target(out: Path) -> None:
    """Refuse an output path under an existing file, naming it (rather than a temporary name beside `out`).

    Raises:
        InvalidInputError: a folder on the way to `out` is a file.
    """
    for folder in (out.parent, *out.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise InvalidInputError(f"Cannot write {out}: {folder} is a file, not a folder.")
            return


def require_outside(out: Path, root: Path) -> None:
    """Refuse an output path in GUILD_DBS_DIR (or that folder itself), symlinks resolved: every name there is the
    bot's (`999.sqlite3` would become a guild's file, `bot-wide.sqlite3` the bot-wide one).

    Raises:
        InvalidInputError: `out` is `root` or lies under it.
    """
    target, folder = out.resolve(), root.resolve()
    if target == folder or folder in target.parents:
        raise InvalidInputError(f"Cannot write {out} inside GUILD_DBS_DIR {root}, which holds only the bot's own "
                                "files: choose a path outside it; nothing was written.")
