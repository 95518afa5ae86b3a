"""Deletion receipts in the bot-wide file: who asked, when, how much. Never any content."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from app.db.connection import BotDb
from app.db.ids import validate_guild_id

Scope = Literal["guild", "member"]
OPERATOR_CLI = "operator:cli"
RETENTION = "retention"


def requested_by_discord(user_id: int) -> str:
    """The `requested_by` of a deletion asked for through a slash command."""
    return f"discord:{int(user_id)}"


@dataclass(frozen=True, slots=True)
class Receipt:
    id: int
    scope: Scope
    guild_id: int | None
    user_id: int | None
    requested_by: str
    reason: str
    bytes_deleted: int
    rows_deleted: int
    deleted_at: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "scope": self.scope, "guild_id": self.guild_id, "user_id": self.user_id,
                "requested_by": self.requested_by, "reason": self.reason,
                "bytes_deleted": self.bytes_deleted, "rows_deleted": self.rows_deleted,
                "deleted_at": self.deleted_at}


_RECEIPT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"  # milliseconds, UTC: `receipt_now()` in Python
_COLUMNS = ("id, scope, guild_id, user_id, requested_by, reason, bytes_deleted, rows_deleted, "
            "deleted_at")


async def create_receipt(bot_db: BotDb, *, scope: Scope, guild_id: int | None, requested_by: str,
                         reason: str, user_id: int | None = None, bytes_deleted: int = 0,
                         rows_deleted: int = 0, deleted_at: str | None = None) -> Receipt:
    """Record one deletion: a guild's file, one member's rows in one guild, or (`guild_id` None, scope
    "member") a member erased from every guild, which a restore applies to every older copy.

    `deleted_at` (`receipt_now()`'s format) dates it; by default, now.

    Raises:
        ValueError: a guild deletion without its guild, or a member erasure without its member.
    """
    if guild_id is None and (scope != "member" or user_id is None):
        raise ValueError("only a member's erasure from every guild is recorded without a guild")
    result = await bot_db.execute(
        "INSERT INTO deletion_receipts (scope, guild_id, user_id, requested_by, reason, "  # noqa: S608
        f"bytes_deleted, rows_deleted, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
        f"COALESCE(?, {_NOW_SQL})) RETURNING {_COLUMNS}",
        (scope, None if guild_id is None else validate_guild_id(guild_id), user_id, requested_by, reason,
         bytes_deleted, rows_deleted, deleted_at))
    return Receipt(*result.rows[0])


async def restamp_now(bot_db: BotDb, receipt: Receipt) -> Receipt:
    """The receipt dated now (a deletion that ends after its receipt was written); as it was if it is gone."""
    result = await bot_db.execute(
        f"UPDATE deletion_receipts SET deleted_at = {_NOW_SQL} WHERE id = ? RETURNING {_COLUMNS}",  # noqa: S608
        (receipt.id,))
    return Receipt(*result.rows[0]) if result.rows else receipt


def receipt_now() -> str:
    """Now, as receipts store it (`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`: UTC, milliseconds)."""
    now = datetime.now(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def is_receipt_time(text: object) -> bool:
    """`text` is a real time in `receipt_now()`'s form (receipts are compared and sorted as that text)."""
    if not isinstance(text, str) or _RECEIPT_TIME.fullmatch(text) is None:
        return False
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


async def delete_receipt(bot_db: BotDb, receipt_id: int) -> None:
    """Withdraw a receipt written for a deletion that then failed (nothing was deleted)."""
    await bot_db.execute("DELETE FROM deletion_receipts WHERE id = ?", (receipt_id,))


async def list_receipts(bot_db: BotDb, *, guild_id: int | None = None) -> list[Receipt]:
    """Every receipt, oldest first; only one guild's if `guild_id` is given."""
    if guild_id is None:
        rows = await bot_db.execute_fetchall(f"SELECT {_COLUMNS} FROM deletion_receipts ORDER BY id")  # noqa: S608
    else:
        rows = await bot_db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM deletion_receipts WHERE guild_id = ? ORDER BY id",  # noqa: S608
            (validate_guild_id(guild_id),))
    return [Receipt(*r) for r in rows]


async def fetch_last_deletion(bot_db: BotDb, guild_id: int) -> datetime | None:
    """When the guild's file was last deleted (any requester), or None."""
    row = await bot_db.execute_fetchone(
        "SELECT max(deleted_at) FROM deletion_receipts WHERE scope = 'guild' AND guild_id = ?",
        (validate_guild_id(guild_id),))
    return datetime.fromisoformat(row[0]) if row and row[0] else None
