from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.errors import InvalidInputError
from app.rights.fanout import export_user, forget_journal, forget_user, parse_user_id
from app.rights.member import erase_member
from app.rights.receipts import list_receipts
from app.rights.subjects import SUBJECT_MAP
from tests.rights.conftest import ALICE, BOB, CAROL, populate

GUILDS = (11, 22, 33, 44)


async def _fleet(mgr: GuildDatabaseManager) -> None:
    for guild_id in GUILDS[:3]:
        async with mgr.connect(guild_id) as db:
            await populate(db, n=2)
    async with mgr.connect(GUILDS[3]) as db:  # a guild where ALICE never was
        await populate(db, members=(BOB, CAROL), n=2)


async def _alice_rows(mgr: GuildDatabaseManager, guild_id: int) -> int:
    total = 0
    async with mgr.connect(guild_id) as db:
        for table, policy in SUBJECT_MAP.items():
            for column in policy.subject + policy.counterpart:
                (row,) = await db.execute_fetchall(f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" = ?',
                                                   (ALICE,))
                total += row[0]
    return total


def _interrupt_after(n: int):
    def progress(items: Sequence[int]) -> Iterable[int]:
        for i, item in enumerate(items):
            if i == n:
                raise KeyboardInterrupt
            yield item
    return progress


@pytest.mark.asyncio
async def test_forget_erases_the_member_in_every_guild_with_one_receipt_per_guild_touched(
        mgr: GuildDatabaseManager) -> None:
    await _fleet(mgr)
    report = await forget_user(mgr, ALICE)
    assert report.touched == [11, 22, 33]
    assert report.guilds_total == 4 and not report.failed
    for guild_id in GUILDS:
        assert await _alice_rows(mgr, guild_id) == 0
    async with mgr.connect_bot() as bot_db:
        receipts = await list_receipts(bot_db)
    assert [(r.scope, r.guild_id, r.user_id) for r in receipts] == [
        *(("member", g, ALICE) for g in (11, 22, 33)), ("member", None, ALICE)]  # None: the request, every guild
    assert receipts[-1].rows_deleted == sum(report.rows.values()) > 0
    assert not forget_journal(mgr.root, ALICE).path.exists()


@pytest.mark.asyncio
async def test_forget_resumes_after_an_interruption(mgr: GuildDatabaseManager) -> None:
    await _fleet(mgr)
    with pytest.raises(KeyboardInterrupt):
        await forget_user(mgr, ALICE, progress=_interrupt_after(2))
    assert await _alice_rows(mgr, 11) == 0 and await _alice_rows(mgr, 33) > 0
    assert forget_journal(mgr.root, ALICE).path.exists()
    report = await forget_user(mgr, ALICE)
    assert report.resumed == 2
    assert report.touched == [11, 22, 33]
    for guild_id in GUILDS:
        assert await _alice_rows(mgr, guild_id) == 0
    async with mgr.connect_bot() as bot_db:
        assert [r.guild_id for r in await list_receipts(bot_db)] == [11, 22, 33, None]  # the request: at the end


@pytest.mark.asyncio
async def test_a_resumed_forget_dates_its_every_guild_receipt_at_the_first_runs_start(
        mgr: GuildDatabaseManager) -> None:
    # Dated at the rerun, it covered backups taken between the two runs: a member who came back to a server the
    # first run had finished, and wrote there, would be erased again from such a backup by a restore.
    await _fleet(mgr)
    with pytest.raises(KeyboardInterrupt):
        await forget_user(mgr, ALICE, progress=_interrupt_after(2))
    await asyncio.sleep(0.01)
    await forget_user(mgr, ALICE)
    async with mgr.connect_bot() as bot_db:
        receipts = await list_receipts(bot_db)
    first_guild, everywhere = receipts[0], receipts[-1]
    assert everywhere.guild_id is None and first_guild.guild_id == 11
    assert everywhere.deleted_at <= first_guild.deleted_at < receipts[-2].deleted_at


@pytest.mark.asyncio
async def test_a_guild_erased_but_not_journaled_before_a_crash_still_gets_a_receipt(
        mgr: GuildDatabaseManager) -> None:
    await _fleet(mgr)
    journal = forget_journal(mgr.root, ALICE)
    journal.append({"guild_id": 11, "state": "started"})
    async with mgr.connect(11) as db:
        await erase_member(db, ALICE)  # the erasure committed, then the process died
    await forget_user(mgr, ALICE)
    async with mgr.connect_bot() as bot_db:
        receipts = {r.guild_id: r for r in await list_receipts(bot_db)}
    assert set(receipts) == {11, 22, 33, None}
    assert "interrupted" in receipts[11].reason


@pytest.mark.asyncio
async def test_user_export_writes_one_file_per_guild_and_resumes(mgr: GuildDatabaseManager, tmp_path: Path) -> None:
    await _fleet(mgr)
    out = tmp_path / "alice"
    with pytest.raises(KeyboardInterrupt):
        await export_user(mgr, ALICE, out, progress=_interrupt_after(1))
    assert sorted(p.name for p in out.iterdir()) == ["guild-11.json", "progress.jsonl"]
    report = await export_user(mgr, ALICE, out)
    assert report.resumed == 1 and report.touched == [11, 22, 33]
    assert sorted(p.name for p in out.iterdir()) == ["guild-11.json", "guild-22.json", "guild-33.json",
                                                      "summary.json"]
    data = json.loads((out / "guild-22.json").read_text())
    assert data["user_id"] == ALICE and data["tables"]["users"][0]["discord_id"] == ALICE
    assert json.loads((out / "summary.json").read_text())["rows"] == sum(report.rows.values())


def test_user_ids_are_validated() -> None:
    assert parse_user_id(" 1234 ") == 1234
    for bad in ("-1", "0", "12a", str(2**63), "１２"):
        with pytest.raises(InvalidInputError):
            parse_user_id(bad)


def _folder(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


@pytest.mark.asyncio
@pytest.mark.parametrize("action", ["export", "forget"])
async def test_a_foreign_or_damaged_file_is_reported_left_as_it_is_and_the_others_are_done(
        mgr: GuildDatabaseManager, tmp_path: Path, action: str) -> None:
    await _fleet(mgr)
    await mgr.close_all()  # every file checkpointed: guild 11's bytes are all in its file
    foreign, damaged = 55, 66
    (mgr.root / f"{foreign}.sqlite3").write_bytes((mgr.root / "11.sqlite3").read_bytes())  # guild 11's, misnamed
    (mgr.root / f"{damaged}.sqlite3").write_bytes(b"not a database " * 100)
    before = {n: b for n, b in _folder(mgr.root).items() if n.startswith(("55.", "66."))}

    async with GuildDatabaseManager(mgr.root, max_open=2) as fresh:
        if action == "export":
            report = await export_user(fresh, ALICE, tmp_path / "out")
            rerun = await export_user(fresh, ALICE, tmp_path / "out")
        else:
            report = await forget_user(fresh, ALICE)
            rerun = await forget_user(fresh, ALICE)

    assert sorted(report.failed) == [foreign, damaged] and sorted(rerun.failed) == [foreign, damaged]
    assert "11" in report.failed[foreign] and "left as it is" in report.failed[damaged]
    assert report.touched == [11, 22, 33]
    after = {n: b for n, b in _folder(mgr.root).items() if n.startswith(("55.", "66."))}
    assert after == before  # neither moved aside, nor written to, nor given side files
