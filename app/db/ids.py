"""Guild ids and the file names built from them, validated at the boundary."""
from __future__ import annotations

import re
from pathlib import Path

from app.errors import InvalidGuildIdError

GUILD_FILE_SUFFIX = ".sqlite3"
BOT_FILE_NAME = "bot-wide.sqlite3"  # never parses as a guild id
_GUILD_FILE = re.compile(r"([1-9][0-9]{0,18})\.sqlite3\Z")  # \Z: `$` also matches before a final newline
MAX_SNOWFLAKE = 2**63


def validate_guild_id(value: object) -> int:
    """Return `value` if it is a guild id: an int (not bool), 0 < id < 2**63.

    Raises:
        InvalidGuildIdError: anything else (strings, bools, out-of-range numbers).
    """
    if type(value) is not int or not 0 < value < MAX_SNOWFLAKE:
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        raise InvalidGuildIdError(f"{shown} is not a Discord server id (a positive 64-bit integer).")
    return value


def parse_guild_id(text: str) -> int:
    """Parse an operator-typed guild id.

    Raises:
        InvalidGuildIdError: the text is not a decimal guild id.
    """
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit():
        raise InvalidGuildIdError(f"{text[:40]!r} is not a Discord server id (digits only).")
    if len(stripped) > 19:  # all digits, but far past 2**63: said as such, without building a huge int
        raise InvalidGuildIdError(f"{stripped[:37] + '...' if len(stripped) > 40 else stripped} is not a Discord "
                                  "server id (a positive 64-bit integer).")
    return validate_guild_id(int(stripped))


def guild_file_name(guild_id: int) -> str:
    """The file name of a guild's database; validates the id first."""
    return f"{validate_guild_id(guild_id)}{GUILD_FILE_SUFFIX}"


def guild_id_from_path(path: Path) -> int | None:
    """The guild id a file name stands for, or None for any other file."""
    match = _GUILD_FILE.match(path.name)
    if match is None:
        return None
    value = int(match.group(1))
    return value if value < MAX_SNOWFLAKE else None
