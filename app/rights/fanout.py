"""One member across every guild file: export or erase, resumable, with a report.

For requests made to the operator (a deleted Discord account, an e-mail). Each
guild is done through the manager (one connection at a time, its SQLite locks
respected, so a running bot in another process simply interleaves); a journal
records finished guilds, and a rerun after an interruption skips them.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.db.fleet import recorded_guild
from app.db.manager import GuildDatabaseManager
from app.errors import BotError, GuildDatabaseError, InvalidInputError
from app.rights.atomic import atomic_output, private_dir
from app.rights.journal import Journal
from app.rights.legacy_copies import erase_from_copies_async, write_quarantine_export
from app.rights.member import MemberErasure, erase_member, export_member
from app.rights.receipts import OPERATOR_CLI, create_receipt, is_receipt_time, receipt_now

Progress = Callable[[Sequence[int]], Iterable[int]]
MAX_SNOWFLAKE = 2**63


def parse_user_id(text: str | int) -> int:
    """A Discord user id typed by the operator.

    Raises:
        InvalidInputError: not a positive 64-bit integer.
    """
    raw = str(text).strip()
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < MAX_SNOWFLAKE:
        raise InvalidInputError(f"{raw[:40]!r} is not a Discord user id (a positive 64-bit integer).")
    return int(raw)


@dataclass(slots=True)
class FanoutReport:
    user_id: int
    action: str
    guilds_total: int = 0
    resumed: int = 0  # guilds finished by an earlier, interrupted run
    rows: dict[int, int] = field(default_factory=dict)  # guild -> rows erased or exported
    failed: dict[int, str] = field(default_factory=dict)
    legacy_files: dict[str, int] = field(default_factory=dict)  # kept legacy copies, quarantine files
    legacy_failed: str | None = None
    published_removed: bool = False  # forget: the member's cross-server row was withdrawn by this run

    @property
    def touched(self) -> list[int]:
        return sorted(g for g, n in self.rows.items() if n)

    def as_dict(self) -> dict[str, object]:
        return {"user_id": self.user_id, "action": self.action, "guilds_total": self.guilds_total,
                "guilds_touched": self.touched, "resumed": self.resumed,
                "rows": sum(self.rows.values()),
                "rows_by_guild": {str(g): n for g, n in sorted(self.rows.items()) if n},
                "failed": {str(g): e for g, e in sorted(self.failed.items())},
                "legacy_files": self.legacy_files, "legacy_failed": self.legacy_failed,
                "published_row_removed": self.published_removed}


def file_problem(path: Path, guild_id: int) -> str | None:
    """Why the file named for `guild_id` is not that guild's readable database (None if it is), read only.

    Asked before a file is opened through the manager, which would move a damaged or misnamed file
    aside: an operator's export or erasure reports such a file and leaves it exactly as it is.
    """
    try:
        recorded = recorded_guild(path)
    except sqlite3.OperationalError as error:
        if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return None  # a writer elsewhere: the manager waits for it
        if not path.exists():
            return None  # deleted meanwhile: nothing of anyone is left there
        return f"{path.name} is not a guild database ({error})"
    except sqlite3.DatabaseError as error:
        return f"{path.name} is not a readable database ({error})"
    if recorded != guild_id:
        owner = "no guild" if recorded is None else f"guild {recorded}"
        return f"{path.name} records {owner}, not {guild_id} (a copy under the wrong name?)"
    return None


async def _require_own(path: Path, guild_id: int) -> None:
    """Raises:
        GuildDatabaseError: the file is not the guild's readable database (left as it is).
    """
    if (problem := await asyncio.to_thread(file_problem, path, guild_id)) is not None:
        raise GuildDatabaseError(f"{problem}; it was left as it is for the operator.")


def forget_journal(root: Path, user_id: int) -> Journal:
    return Journal(root / f".forget-{user_id}.journal")  # never parses as a guild file


def _iterate(guild_ids: list[int], progress: Progress | None) -> Iterable[int]:
    return progress(guild_ids) if progress is not None else guild_ids


async def forget_user(manager: GuildDatabaseManager, user_id: int, *, requested_by: str = OPERATOR_CLI,
                      reason: str = "member erasure requested to the operator",
                      progress: Progress | None = None) -> FanoutReport:
    """Erase the member in every guild file; one receipt per guild where anything changed, and one for the
    request itself (no guild: every guild), which a restore applies to every copy older than it, even of a
    guild whose file was missing or set aside while this ran."""
    journal = forget_journal(manager.root, user_id)
    done, interrupted = journal.done(), journal.started_not_done()
    begun = _request_began(journal)
    report = FanoutReport(user_id, "forget", resumed=len(done))
    report.rows = {g: int(e.get("rows", 0)) for g, e in done.items()}
    guild_ids = manager.guild_ids_on_disk()
    report.guilds_total = len(set(guild_ids) | set(done))
    for guild_id in _iterate([g for g in guild_ids if g not in done], progress):
        try:
            erased = await _forget_in(manager, journal, guild_id, user_id, requested_by, reason,
                                      guild_id in interrupted)
        except BotError as error:
            report.failed[guild_id] = getattr(error, "user_message", str(error))
            continue
        report.rows[guild_id] = erased.rows_changed if erased is not None else 0
        report.published_removed |= erased is not None and erased.published
    try:
        report.legacy_files = await erase_from_copies_async(manager.root, user_id=user_id)
    except BotError as error:
        report.legacy_failed = str(error)
    async with manager.connect_bot() as bot_db:  # written once every file was reached, dated when the request
        # began: a copy older than that holds the member wherever it was taken, and a copy taken while a rerun was
        # pending is covered by the receipts of the guilds erased after it (a member back since keeps new rows)
        await create_receipt(bot_db, scope="member", guild_id=None, user_id=user_id, requested_by=requested_by,
                             reason=f"{reason} (every guild)", rows_deleted=sum(report.rows.values()),
                             deleted_at=begun)
    if not report.failed and report.legacy_failed is None:
        journal.remove()  # it names the member: keep it no longer than the job
    return report


def _request_began(journal: Journal) -> str:
    """When the request's first run began, as its journal says (recorded now by a first run). A time the
    journal holds in another form, or later than now (edited by hand, a clock set back), is not trusted: this
    run's start dates the receipt then, as a later date only erases the member from more copies."""
    now, begun = receipt_now(), journal.begun_at()
    if begun is None:
        journal.mark_begun(now)
        return now
    return begun if is_receipt_time(begun) and begun <= now else now


async def _forget_in(manager: GuildDatabaseManager, journal: Journal, guild_id: int, user_id: int,
                     requested_by: str, reason: str, was_interrupted: bool) -> MemberErasure | None:
    path = manager.path_for(guild_id)
    if not path.exists():  # deleted or set aside meanwhile: a receipt of its own, as the request's is dated when
        # it began, and a backup taken since may hold the member in this guild (a restore erases them from it)
        async with manager.connect_bot() as bot_db:
            await create_receipt(bot_db, scope="member", guild_id=guild_id, user_id=user_id, requested_by=requested_by,
                                 reason=reason + "; its file was gone when reached")
        return None
    await _require_own(path, guild_id)
    journal.append({"guild_id": guild_id, "state": "started"})
    async with manager.connect(guild_id) as db:
        erased = await erase_member(db, user_id)
    if erased.changed_anything or was_interrupted:
        note = erased.receipt_note()
        if was_interrupted and not erased.changed_anything:
            note += "; completes an interrupted run (rows erased then not counted)"
        async with manager.connect_bot() as bot_db:
            await create_receipt(bot_db, scope="member", guild_id=guild_id, user_id=user_id,
                                 requested_by=requested_by, reason=reason + note,
                                 rows_deleted=erased.rows_deleted)
    journal.append({"guild_id": guild_id, "state": "done", "rows": erased.rows_changed})
    return erased


async def export_user(manager: GuildDatabaseManager, user_id: int, out_dir: Path, *,
                      progress: Progress | None = None) -> FanoutReport:
    """Write the member's rows of every guild to `out_dir/guild-<id>.json` (+ summary.json)."""
    out_dir = private_dir(Path(out_dir))
    journal = Journal(out_dir / "progress.jsonl")
    done = {g: e for g, e in journal.done().items()
            if not e.get("rows") or (out_dir / f"guild-{g}.json").exists()}
    report = FanoutReport(user_id, "export", resumed=len(done))
    report.rows = {g: int(e.get("rows", 0)) for g, e in done.items()}
    guild_ids = manager.guild_ids_on_disk()
    report.guilds_total = len(set(guild_ids) | set(done))
    for guild_id in _iterate([g for g in guild_ids if g not in done], progress):
        try:
            report.rows[guild_id] = await _export_in(manager, out_dir, guild_id, user_id)
        except BotError as error:
            report.failed[guild_id] = getattr(error, "user_message", str(error))
            continue
        journal.append({"guild_id": guild_id, "state": "done", "rows": report.rows[guild_id]})
    rows = await asyncio.to_thread(write_quarantine_export, manager.root, user_id,
                                   out_dir / "legacy-quarantine.json")
    if rows:
        report.legacy_files["legacy-quarantine.json"] = rows
    if not report.failed:
        _write_json(out_dir / "summary.json", report.as_dict())
        journal.remove()
    return report


async def _export_in(manager: GuildDatabaseManager, out_dir: Path, guild_id: int, user_id: int) -> int:
    path = manager.path_for(guild_id)
    if not path.exists():
        return 0
    await _require_own(path, guild_id)
    async with manager.connect(guild_id) as db:
        data = await export_member(db, user_id)
    rows = int(data["rows"])
    target = out_dir / f"guild-{guild_id}.json"
    if rows:
        _write_json(target, data)
    else:
        target.unlink(missing_ok=True)
    return rows


def _write_json(target: Path, payload: object) -> None:
    with atomic_output(target, overwrite=True) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
