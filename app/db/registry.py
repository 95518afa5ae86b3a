"""The guild registry in the bot-wide file: when the bot joined and left each guild."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.connection import BotDb
from app.db.ids import validate_guild_id


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    guild_id: int
    name: str | None
    joined_at: str | None
    left_at: str | None
    purge_after: str | None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def record_join(bot_db: BotDb, guild_id: int, *, name: str | None = None,
                      now: datetime | None = None) -> None:
    """The bot is in the guild (added, or seen at startup): any pending purge is cancelled."""
    stamp = _iso(now or datetime.now(UTC))
    await bot_db.execute(
        "INSERT INTO guild_registry (guild_id, name, joined_at) VALUES (?, ?, ?) "
        "ON CONFLICT (guild_id) DO UPDATE SET name = coalesce(excluded.name, name), "
        "joined_at = CASE WHEN left_at IS NULL THEN coalesce(joined_at, excluded.joined_at) "
        "ELSE excluded.joined_at END, left_at = NULL, purge_after = NULL",
        (validate_guild_id(guild_id), name, stamp))


async def record_leave(bot_db: BotDb, guild_id: int, *, retention_days: int,
                       now: datetime | None = None) -> None:
    """The bot left the guild: its file is purged after `retention_days` unless it is added back.

    A guild already recorded as left, its purge pending, keeps its date: Discord may deliver a leave twice
    (a resumed session), and a second one must not push the purge back.
    """
    moment = now or datetime.now(UTC)
    await bot_db.execute(
        "INSERT INTO guild_registry (guild_id, left_at, purge_after) VALUES (?, ?, ?) "
        "ON CONFLICT (guild_id) DO UPDATE SET left_at = excluded.left_at, "
        "purge_after = excluded.purge_after "
        "WHERE guild_registry.left_at IS NULL OR guild_registry.purge_after IS NULL",
        (validate_guild_id(guild_id), _iso(moment), _iso(moment + timedelta(days=retention_days))))


async def fetch_entry(bot_db: BotDb, guild_id: int) -> RegistryEntry | None:
    row = await bot_db.execute_fetchone(
        "SELECT guild_id, name, joined_at, left_at, purge_after FROM guild_registry WHERE guild_id = ?",
        (validate_guild_id(guild_id),))
    return RegistryEntry(*row) if row else None


async def list_expired(bot_db: BotDb, *, now: datetime | None = None) -> list[RegistryEntry]:
    """Guilds the bot left whose retention period is over."""
    rows = await bot_db.execute_fetchall(
        "SELECT guild_id, name, joined_at, left_at, purge_after FROM guild_registry "
        "WHERE purge_after IS NOT NULL AND purge_after <= ? ORDER BY purge_after",
        (_iso(now or datetime.now(UTC)),))
    return [RegistryEntry(*r) for r in rows]


async def clear_purge(bot_db: BotDb, guild_id: int) -> None:
    """After a purge: the guild stays in the registry as left, with nothing pending and no name kept."""
    await bot_db.execute("UPDATE guild_registry SET purge_after = NULL, name = NULL WHERE guild_id = ?",
                         (validate_guild_id(guild_id),))


async def record_present(bot_db: BotDb, guild_ids: list[int], *, now: datetime | None = None) -> int:
    """Guilds Discord says the bot is in (READY, available or not): a pending purge of any of them is off.

    A guild added back while the bot was offline (its GUILD_DELETE and GUILD_CREATE both missed, or
    GUILD_CREATE delayed by an outage) is no longer recorded as left. Returns how many were.
    """
    stamp = _iso(now or datetime.now(UTC))
    async with bot_db.transaction():
        result = await bot_db.executemany(
            "UPDATE guild_registry SET joined_at = ?, left_at = NULL, purge_after = NULL "
            "WHERE guild_id = ? AND left_at IS NOT NULL",
            [(stamp, validate_guild_id(g)) for g in guild_ids])
    return result.rowcount


async def record_absent(bot_db: BotDb, guild_ids: list[int], *, retention_days: int,
                        now: datetime | None = None) -> int:
    """Guilds with a file that Discord says the bot is not in: start their retention clock.

    Guilds already recorded as left keep their date (a restart does not extend it), unless their
    purge is over: a file of theirs found again (a late split, a copy put back) gets a new period.
    Returns how many guilds were newly recorded as left.
    """
    moment = now or datetime.now(UTC)
    left_at, purge_after = _iso(moment), _iso(moment + timedelta(days=retention_days))
    async with bot_db.transaction():
        result = await bot_db.executemany(
            "INSERT INTO guild_registry (guild_id, left_at, purge_after) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET left_at = excluded.left_at, "
            "purge_after = excluded.purge_after "
            "WHERE guild_registry.left_at IS NULL OR guild_registry.purge_after IS NULL",
            [(validate_guild_id(g), left_at, purge_after) for g in guild_ids])
    return result.rowcount
