"""The per-guild storage quota (MAX_GUILD_DB_MB): SQLite's `max_page_count`, and what admins are told.

SQLite refuses to grow a file past `max_page_count` pages (SQLITE_FULL): the statement fails and the
transaction it was in is rolled back, so nothing is half-written. The setting is per connection: raising
MAX_GUILD_DB_MB takes effect when a file is next opened.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from cachetools import TTLCache

from app.db.fleet import file_size
from app.db.schema import GUILD_SCHEMA

log = logging.getLogger(__name__)

PAGE_SIZE = GUILD_SCHEMA.page_size  # the guild template's page size (tests/ops/test_quota.py checks it)
MIB = 1024 * 1024
WARN_FRACTION = 0.8
CHECK_EVERY_S = 30.0
MEASURED_GUILDS = 100_000  # guilds remembered as measured within the period (beyond: measured again)


def max_page_count(max_mb: int) -> int:
    return max_mb * MIB // PAGE_SIZE


def quota_bytes(max_mb: int) -> int:
    return max_mb * MIB


def used_fraction(size_bytes: int, max_mb: int) -> float:
    return size_bytes / quota_bytes(max_mb)


def is_near(size_bytes: int, max_mb: int) -> bool:
    return used_fraction(size_bytes, max_mb) >= WARN_FRACTION


def storage_full_message(max_mb: int) -> str:
    return (f"This server's storage is full ({max_mb} MB), so nothing was saved; an admin can free space with "
            "/server-data export then delete, or ask the bot's operator to raise the limit.")


def near_quota_warning(size_bytes: int, max_mb: int) -> str:
    return (f"This server's storage is {used_fraction(size_bytes, max_mb):.0%} full (limit {max_mb} MB): "
            "when it is full, new data cannot be saved.")


def find_storage_full(errors: Iterable[BaseException]) -> sqlite3.Error | None:
    """The SQLITE_FULL error among the errors or their `__cause__`/`__context__` chains, if any."""
    for error in errors:
        current: BaseException | None = error
        seen: set[int] = set()
        while current is not None and id(current) not in seen:
            code = getattr(current, "sqlite_errorcode", None)
            if isinstance(current, sqlite3.Error) and code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
                return current
            seen.add(id(current))
            current = current.__cause__ or current.__context__
    return None


class QuotaWatch:
    """Logs once per guild (per process) when its file passes 80 % of the quota.

    A guild's file is measured at most once every `CHECK_EVERY_S` (four `stat`s after a command were a
    tenth of a /ping): the warning can come that much later, the quota itself is SQLite's and exact.
    """

    def __init__(self, max_mb: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_mb = max_mb
        self._warned: set[int] = set()
        self._measured: TTLCache[int, bool] = TTLCache(maxsize=MEASURED_GUILDS, ttl=CHECK_EVERY_S, timer=clock)

    def check(self, guild_id: int, path: Path) -> bool:
        """True if this call logged the warning (the file is near the quota and was not logged before)."""
        if guild_id in self._warned or guild_id in self._measured:
            return False
        self._measured[guild_id] = True
        size = file_size(path)
        if not is_near(size, self.max_mb):
            return False
        self._warned.add(guild_id)
        log.warning("guild %s uses %.0f%% of its storage quota (%d of %d MB); MAX_GUILD_DB_MB raises it",
                    guild_id, 100 * used_fraction(size, self.max_mb), size // MIB, self.max_mb)
        return True
