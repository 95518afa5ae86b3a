"""The invite tracker's records in this server's file: uses, leaves, per-inviter stats, settings, bonus.

Counting (per inviter, in `recruitment_stats`): `total` joins attributed to them; `fake` those from an
account younger than the server's threshold or a self-invite; `left` those (not fake) who left again;
`valid` = total − fake − left; the score is valid + bonus. A join whose invite cannot be told is kept in
`invite_uses` with no code and no inviter: "unknown", counted for nobody.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db import GuildDb
from app.errors import InvalidInputError
from app.features.invite_snapshot import InviteCount, Snapshot

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_FAKE_DAYS = 7
FAKE_DAYS_RANGE = (0, 365)
BONUS_RANGE = (-10_000, 10_000)
WELCOME_MAX = 500
DEFAULT_WELCOME = "{member} joined, invited by {inviter} (now {invites} invites)."
UNKNOWN_WELCOME = "{member} joined; the invite they used is unknown: {reason}."
_STATS = "SELECT inviter_id, total_invites, valid_invites, left_invites, fake_invites, bonus_invites " \
         "FROM recruitment_stats"


@dataclass(frozen=True, slots=True)
class InviteSettings:
    enabled: bool = True
    log_channel_id: int | None = None
    fake_threshold_days: int = DEFAULT_FAKE_DAYS
    welcome_message: str | None = None


@dataclass(frozen=True, slots=True)
class InviterStats:
    inviter_id: int
    total: int = 0
    valid: int = 0
    left: int = 0
    fake: int = 0
    bonus: int = 0

    @property
    def score(self) -> int:
        return self.valid + self.bonus


@dataclass(frozen=True, slots=True)
class RecordedJoin:
    user_id: int
    invite_code: str | None
    inviter_id: int | None
    is_fake: bool


@dataclass(frozen=True, slots=True)
class RecordedLeave:
    user_id: int
    inviter_id: int | None
    days_in_server: float | None


def account_created_at(user_id: int) -> datetime:
    """A Discord id holds its creation time (milliseconds since 2015 in the top 42 bits)."""
    return datetime.fromtimestamp(((user_id >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def is_fake(user_id: int, inviter_id: int | None, joined_at: datetime, threshold_days: int) -> bool:
    """A self-invite, or an account younger than the threshold when it joined."""
    if inviter_id is not None and inviter_id == user_id:
        return True
    return joined_at - account_created_at(user_id) < timedelta(days=threshold_days)


async def fetch_invite_settings(db: GuildDb) -> InviteSettings:
    row = await db.execute_fetchone("SELECT enabled, log_channel_id, fake_threshold_days, welcome_message "
                                    "FROM invite_tracker_settings WHERE id = 1")
    if row is None:
        return InviteSettings()
    return InviteSettings(bool(row[0]), row[1], row[2], row[3])


async def update_invite_settings(db: GuildDb, *, log_channel_id: int | None = None,
                                 fake_threshold_days: int | None = None,
                                 welcome_message: str | None = None) -> InviteSettings:
    """Change the settings given (None: unchanged).

    Raises:
        InvalidInputError: a value out of range.
    """
    if fake_threshold_days is not None and not FAKE_DAYS_RANGE[0] <= fake_threshold_days <= FAKE_DAYS_RANGE[1]:
        raise InvalidInputError(f"The fake threshold is {FAKE_DAYS_RANGE[0]} to {FAKE_DAYS_RANGE[1]} days.")
    if welcome_message is not None and not 0 < len(welcome_message.strip()) <= WELCOME_MAX:
        raise InvalidInputError(f"A welcome message has 1 to {WELCOME_MAX} characters.")
    async with db.transaction():
        await db.execute("INSERT INTO invite_tracker_settings (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
        await db.execute(
            "UPDATE invite_tracker_settings SET log_channel_id = coalesce(?, log_channel_id), "
            "fake_threshold_days = coalesce(?, fake_threshold_days), "
            "welcome_message = coalesce(?, welcome_message) WHERE id = 1",
            (log_channel_id, fake_threshold_days, welcome_message.strip() if welcome_message else None))
    return await fetch_invite_settings(db)


async def save_snapshot(db: GuildDb, snapshot: Snapshot) -> None:
    """The invites table mirrors the last list read from Discord."""
    async with db.transaction():
        await db.execute("DELETE FROM invites")
        await db.executemany(
            "INSERT INTO invites (code, inviter_id, uses, max_uses, expires_at) VALUES (?, ?, ?, ?, ?)",
            [(i.code, i.inviter_id, i.uses, i.max_uses, i.expires_at.isoformat() if i.expires_at else None)
             for i in snapshot.values()])


async def record_joins(db: GuildDb, joins: list[tuple[int, datetime]], invite: InviteCount | None,
                       threshold_days: int) -> list[RecordedJoin]:
    """One `invite_uses` row per join; the inviter's stats when the invite is known."""
    code = invite.code if invite else None
    inviter = invite.inviter_id if invite else None
    recorded = [RecordedJoin(user_id, code, inviter,
                             inviter is not None and is_fake(user_id, inviter, at, threshold_days))
                for user_id, at in joins]
    async with db.transaction():
        await db.executemany(
            "INSERT INTO invite_uses (invite_code, inviter_id, joiner_id, joined_at, is_fake) VALUES (?, ?, ?, ?, ?)",
            [(r.invite_code, r.inviter_id, r.user_id, at.isoformat(), int(r.is_fake))
             for r, (_, at) in zip(recorded, joins, strict=True)])
        if inviter is not None:
            fake = sum(r.is_fake for r in recorded)
            await db.execute(
                "INSERT INTO recruitment_stats (inviter_id, total_invites, valid_invites, fake_invites) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (inviter_id) DO UPDATE SET "
                "total_invites = total_invites + excluded.total_invites, "
                "valid_invites = valid_invites + excluded.valid_invites, "
                "fake_invites = fake_invites + excluded.fake_invites",
                (inviter, len(recorded), len(recorded) - fake, fake))
    return recorded


async def record_leave(db: GuildDb, user_id: int, left_at: datetime) -> RecordedLeave:
    """The member left: days since their last recorded join; a valid invite of theirs counts as left."""
    row = await db.execute_fetchone("SELECT id, inviter_id, joined_at, is_fake FROM invite_uses "
                                    "WHERE joiner_id = ? ORDER BY id DESC LIMIT 1", (user_id,))
    inviter_id = row[1] if row else None
    days = None
    if row and row[2]:
        joined = datetime.fromisoformat(row[2])
        joined = joined if joined.tzinfo else joined.replace(tzinfo=UTC)
        days = round((left_at - joined).total_seconds() / 86_400, 2)
    async with db.transaction():
        await db.execute("INSERT INTO user_leaves (user_id, inviter_id, left_at, days_in_server) VALUES (?, ?, ?, ?)",
                         (user_id, inviter_id, left_at.isoformat(), days))
        if row is not None and inviter_id is not None and not row[3]:
            await db.execute("UPDATE recruitment_stats SET left_invites = left_invites + 1, "
                             "valid_invites = valid_invites - 1 WHERE inviter_id = ?", (inviter_id,))
    return RecordedLeave(user_id, inviter_id, days)


def _stats(row: tuple[int, ...]) -> InviterStats:
    return InviterStats(*row)


async def fetch_inviter_stats(db: GuildDb, inviter_id: int) -> InviterStats:
    row = await db.execute_fetchone(f"{_STATS} WHERE inviter_id = ?", (inviter_id,))
    return _stats(row) if row else InviterStats(inviter_id)


async def list_leaderboard(db: GuildDb) -> list[InviterStats]:
    """Inviters by score (valid + bonus), then by total; those with nothing to show are left out."""
    rows = await db.execute_fetchall(f"{_STATS} WHERE total_invites > 0 OR bonus_invites != 0 "
                                     "ORDER BY valid_invites + bonus_invites DESC, total_invites DESC, inviter_id")
    return [_stats(r) for r in rows]


async def add_bonus(db: GuildDb, inviter_id: int, amount: int) -> InviterStats:
    """Raises:
        InvalidInputError: an amount of 0 or out of range.
    """
    if amount == 0 or not BONUS_RANGE[0] <= amount <= BONUS_RANGE[1]:
        raise InvalidInputError(f"A bonus is a non-zero number from {BONUS_RANGE[0]} to {BONUS_RANGE[1]}.")
    await db.execute("INSERT INTO recruitment_stats (inviter_id, bonus_invites) VALUES (?, ?) "
                     "ON CONFLICT (inviter_id) DO UPDATE SET bonus_invites = bonus_invites + excluded.bonus_invites",
                     (inviter_id, amount))
    return await fetch_inviter_stats(db, inviter_id)


async def count_unknown_joins(db: GuildDb) -> int:
    row = await db.execute_fetchone("SELECT count(*) FROM invite_uses WHERE inviter_id IS NULL")
    return int(row[0]) if row else 0


def welcome_text(settings: InviteSettings, joined: RecordedJoin, stats: InviterStats | None, reason: str) -> str:
    """The log channel's line for a join ({member}, {inviter}, {invites} in an admin's template)."""
    if joined.inviter_id is None or stats is None:
        return UNKNOWN_WELCOME.replace("{member}", f"<@{joined.user_id}>").replace("{reason}", reason)
    text = (settings.welcome_message or DEFAULT_WELCOME).replace("{member}", f"<@{joined.user_id}>")
    text = text.replace("{inviter}", f"<@{joined.inviter_id}>").replace("{invites}", str(stats.score))
    return text + (" (counted as fake)" if joined.is_fake else "")
