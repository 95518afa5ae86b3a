"""What the operator reads when a command fails: one sentence on stderr; the traceback only with --debug."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

from app.errors import BotError, ConfigurationError, DatabaseQuarantinedError, UserFacingError

# How a command uses GUILD_DBS_DIR: reads an existing folder (the default), may create it (run),
# reads it if it is there (a report that is also true before anything was made), or not at all.
FolderUse = Literal["existing", "created", "optional", "unused"]


def check_guild_folder(folder: Path, use: FolderUse) -> None:
    """Refuse a GUILD_DBS_DIR the command cannot use, before it starts.

    Raises:
        ConfigurationError: the folder is a file, missing (when it must exist) or unreadable.
    """
    if use == "unused":
        return
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(f"GUILD_DBS_DIR {folder} is not a folder.")
    if use in ("created", "optional"):
        return
    if not folder.exists():
        raise ConfigurationError(
            f"GUILD_DBS_DIR {folder} does not exist: set it to the folder that holds the guild files.")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ConfigurationError(f"GUILD_DBS_DIR {folder} cannot be read (permission denied).")


def one_sentence(error: Exception) -> str:
    """The failure as one line: a domain message as written, anything else named plainly."""
    if isinstance(error, DatabaseQuarantinedError):  # the operator is told where the file went
        said = error.user_message.rstrip(".").removesuffix("; nothing was deleted")
        text = f"{said}, as {error.quarantined_as}; nothing was deleted."
    elif isinstance(error, UserFacingError):
        text = error.user_message
    elif isinstance(error, BotError):
        text = f"Failed: {error}"
    elif isinstance(error, OSError):
        where = f" {error.filename}" if error.filename is not None else ""
        text = f"Could not use{where}: {error.strerror or error}"
    elif isinstance(error, sqlite3.Error):
        text = f"SQLite refused: {error}"
    else:
        text = f"Unexpected {type(error).__name__} ({error}); run again with --debug to see where"
    text = " ".join(text.split())
    return text if text.endswith((".", "?", "!")) else text + "."
