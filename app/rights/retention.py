"""Retention: a guild the bot left is deleted once its purge time passes, unless the bot came back."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from app.db import registry
from app.db.connection import BotDb
from app.db.manager import GuildDatabaseManager
from app.errors import BotError
from app.legacy.kept import retire_expired
from app.rights.guild_delete import delete_guild, set_aside_copies
from app.rights.receipts import RETENTION

log = logging.getLogger(__name__)

Outcome = Literal["deleted", "would delete", "no file", "rejoined", "failed"]
DEFAULT_INTERVAL_S = 3600.0
DEFAULT_LEGACY_KEEP_DAYS = 30


@dataclass(frozen=True, slots=True)
class PurgeResult:
    guild_id: int
    outcome: Outcome
    left_at: str | None
    purge_after: str | None
    bytes_deleted: int = 0
    rows_deleted: int = 0
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"guild_id": self.guild_id, "outcome": self.outcome, "left_at": self.left_at,
                "purge_after": self.purge_after, "bytes_deleted": self.bytes_deleted,
                "rows_deleted": self.rows_deleted, "detail": self.detail}


async def purge_expired(manager: GuildDatabaseManager, *, now: datetime | None = None,
                        dry_run: bool = False, present: Callable[[int], bool] | None = None) -> list[PurgeResult]:
    """Delete the file of every guild whose retention is over (receipt by "retention").

    A guild the bot was added back to is skipped: its registry entry is re-read
    just before deletion. `present(guild_id)` (the running bot: the gateway says it is in the
    guild) skips it too, whatever the registry says yet. With `dry_run`, nothing changes.
    """
    moment = now or datetime.now(UTC)
    async with manager.connect_bot() as bot_db:
        expired = await registry.list_expired(bot_db, now=moment)
    if manager.shards is not None:  # a shared bot-wide file lists other processes' guilds too
        expired = [e for e in expired if manager.shards.owns(e.guild_id)]
    results = []
    for entry in expired:
        if dry_run:
            path = manager.path_for(entry.guild_id)
            exists = path.exists() or bool(set_aside_copies(path))
            results.append(PurgeResult(entry.guild_id, "would delete" if exists else "no file",
                                       entry.left_at, entry.purge_after))
            continue
        results.append(await _purge_one(manager, entry, moment, present or _nowhere))
    return results


def _after(stamp: str, moment: datetime) -> bool:
    return datetime.fromisoformat(stamp) > moment


class _Rejoined(Exception):
    """The bot was added back to the guild: its purge is off."""


def _nowhere(_: int) -> bool:
    return False


async def _due(bot_db: BotDb, guild_id: int, moment: datetime, present: Callable[[int], bool]) -> bool:
    if present(guild_id):
        return False
    current = await registry.fetch_entry(bot_db, guild_id)
    return not (current is None or current.purge_after is None or _after(current.purge_after, moment))


async def _purge_one(manager: GuildDatabaseManager, entry: registry.RegistryEntry,
                     moment: datetime, present: Callable[[int], bool]) -> PurgeResult:
    guild_id = entry.guild_id
    async with manager.connect_bot() as bot_db:
        if not await _due(bot_db, guild_id, moment, present):
            return PurgeResult(guild_id, "rejoined", entry.left_at, entry.purge_after)
        path = manager.path_for(guild_id)
        if not path.exists() and not set_aside_copies(path):
            await registry.clear_purge(bot_db, guild_id)
            return PurgeResult(guild_id, "no file", entry.left_at, entry.purge_after)

    async def still_due(bot_db: BotDb) -> None:  # asked again once the guild is held (its work done)
        if not await _due(bot_db, guild_id, moment, present):
            raise _Rejoined

    try:
        deletion = await delete_guild(manager, guild_id, requested_by=RETENTION, still_wanted=still_due,
                                      reason=f"retention period over (bot left at {entry.left_at})")
    except _Rejoined:
        return PurgeResult(guild_id, "rejoined", entry.left_at, entry.purge_after)
    except BotError as error:
        log.warning("retention purge of guild %s failed: %s", guild_id, error)
        return PurgeResult(guild_id, "failed", entry.left_at, entry.purge_after,
                           detail=getattr(error, "user_message", str(error)))
    async with manager.connect_bot() as bot_db:
        await registry.clear_purge(bot_db, guild_id)
    return PurgeResult(guild_id, "deleted", entry.left_at, entry.purge_after,
                       deletion.bytes_deleted, deletion.rows_deleted)


async def retire_legacy_copies(manager: GuildDatabaseManager, keep_days: int, *,
                               now: datetime | None = None) -> list[str]:
    """Retire the kept legacy copies once `keep_days` have passed since the verified split; their names."""
    # inline: one small JSON read when nothing is due (the bot starts no thread for it)
    retired = retire_expired(manager.root, keep_days, now=now)
    return [k.path.name for k in retired]


async def upkeep_round(manager: GuildDatabaseManager, *, legacy_keep_days: int = DEFAULT_LEGACY_KEEP_DAYS,
                       now: datetime | None = None, present: Callable[[int], bool] | None = None
                       ) -> list[PurgeResult]:
    """One round of upkeep: retire expired legacy copies, purge expired guilds; a failure is logged, not raised.

    Returns the purge's results (none if the round failed), for the metrics.
    """
    try:
        retired = await retire_legacy_copies(manager, legacy_keep_days, now=now)
        if retired:
            log.info("retired kept legacy copies after LEGACY_KEEP_DAYS: %s", retired)
        results = await purge_expired(manager, now=now, present=present)
    except (BotError, OSError) as error:
        log.exception("retention purge round failed: %s", error)
        return []
    deleted = [r.guild_id for r in results if r.outcome == "deleted"]
    if deleted:
        log.info("retention purge deleted %d guild file(s): %s", len(deleted), deleted)
    return results


async def run_retention_forever(manager: GuildDatabaseManager, *, interval_s: float = DEFAULT_INTERVAL_S,
                                legacy_keep_days: int = DEFAULT_LEGACY_KEEP_DAYS) -> None:
    """Run `upkeep_round` now and then every `interval_s` seconds (wall clock; the bot uses its Clock).

    Start it as a task and cancel it before `manager.close_all()`.
    """
    while True:
        await upkeep_round(manager, legacy_keep_days=legacy_keep_days)
        await asyncio.sleep(interval_s)
