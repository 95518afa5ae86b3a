"""The member features' server settings, stored in this server's `guild_settings` (key → JSON value).

Keys: `announce_channel_id` (int or null), `levelup_announcements` (bool), `xp_amount` (int),
`xp_cooldown_seconds` (int, or absent: the bot's XP_COOLDOWN_SECONDS). A value that does not
parse or is out of range reads as the default: a hand-edited file never breaks the listener.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.db import GuildDb
from app.errors import InvalidInputError

ANNOUNCE_CHANNEL, LEVELUP, XP_AMOUNT, XP_COOLDOWN = (
    "announce_channel_id", "levelup_announcements", "xp_amount", "xp_cooldown_seconds")
KEYS = (ANNOUNCE_CHANNEL, LEVELUP, XP_AMOUNT, XP_COOLDOWN)
DEFAULT_XP_AMOUNT = 15
XP_AMOUNT_RANGE = (1, 1_000)
XP_COOLDOWN_RANGE = (0, 86_400)
_SELECT = "SELECT key, value FROM guild_settings WHERE key IN (?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """What an admin chose for this server; `xp_cooldown_seconds=None` means the bot's default."""

    announce_channel_id: int | None = None
    levelup_announcements: bool = False
    xp_amount: int = DEFAULT_XP_AMOUNT
    xp_cooldown_seconds: int | None = None

    def cooldown(self, default: int) -> int:
        return default if self.xp_cooldown_seconds is None else self.xp_cooldown_seconds


def _in_range(value: object, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


def _bounded(value: object, bounds: tuple[int, int]) -> int | None:
    return value if isinstance(value, int) and _in_range(value, bounds) else None


def _parse(stored: dict[str, Any]) -> GuildSettings:
    d = GuildSettings()
    levelup, amount = stored.get(LEVELUP), _bounded(stored.get(XP_AMOUNT), XP_AMOUNT_RANGE)
    return GuildSettings(
        announce_channel_id=_bounded(stored.get(ANNOUNCE_CHANNEL), (1, 2**63 - 1)),
        levelup_announcements=levelup if isinstance(levelup, bool) else d.levelup_announcements,
        xp_amount=d.xp_amount if amount is None else amount,
        xp_cooldown_seconds=_bounded(stored.get(XP_COOLDOWN), XP_COOLDOWN_RANGE))


async def fetch_guild_settings(db: GuildDb) -> GuildSettings:
    """This server's settings, defaults for anything unset or unreadable."""
    rows = await db.execute_fetchall(_SELECT, KEYS)
    stored: dict[str, Any] = {}
    for key, value in rows:
        try:
            stored[key] = json.loads(value)
        except ValueError:
            continue
    return _parse(stored)


def validate_changes(changes: dict[str, Any]) -> None:
    """Refuse values outside the ranges (Discord's option limits are checked again here).

    Raises:
        InvalidInputError: a value is out of range or a key is unknown.
    """
    for key in changes:
        if key not in KEYS:
            raise InvalidInputError(f"There is no setting called {key[:40]!r}.")
    if XP_AMOUNT in changes and not _in_range(changes[XP_AMOUNT], XP_AMOUNT_RANGE):
        raise InvalidInputError(f"The XP per message must be between {XP_AMOUNT_RANGE[0]} and {XP_AMOUNT_RANGE[1]}.")
    if XP_COOLDOWN in changes and not _in_range(changes[XP_COOLDOWN], XP_COOLDOWN_RANGE):
        raise InvalidInputError(
            f"The XP cooldown must be between {XP_COOLDOWN_RANGE[0]} and {XP_COOLDOWN_RANGE[1]} seconds.")
    channel = changes.get(ANNOUNCE_CHANNEL)
    if channel is not None and not _in_range(channel, (1, 2**63 - 1)):
        raise InvalidInputError("That is not a channel of this server.")
    if LEVELUP in changes and not isinstance(changes[LEVELUP], bool):
        raise InvalidInputError("Level-up announcements are either on or off.")


async def update_guild_settings(db: GuildDb, changes: dict[str, Any], *, user_id: int) -> GuildSettings:
    """Store `changes` (a None channel clears it) in one transaction; returns the settings now in force.

    Raises:
        InvalidInputError: a value is out of range (nothing is changed).
    """
    validate_changes(changes)
    async with db.transaction():
        for key, value in changes.items():
            if value is None:
                await db.execute("DELETE FROM guild_settings WHERE key = ?", (key,))
                continue
            await db.execute(
                "INSERT INTO guild_settings (key, value, updated_by) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", (key, json.dumps(value), user_id))
        return await fetch_guild_settings(db)

