"""The every-guild receipt of `user forget` is dated from its journal's "begun" line: a line a person edited (or a
clock set back) must not date it in the future or in a form receipts are never stored in."""
from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from app.backup.receipts import moment
from app.db import GuildDatabaseManager
from app.rights.fanout import forget_journal, forget_user
from app.rights.receipts import list_receipts, receipt_now
from tests.rights.conftest import ALICE, populate

RECEIPT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.mark.asyncio
@pytest.mark.parametrize("at", ["yesterday", 5, "2999-01-01T00:00:00.000Z", "2026-01-01 10:00:00",
                                "2026-01-01T10:00:00+00:00", None])
async def test_a_hand_edited_begun_line_never_dates_the_receipt_after_now_or_out_of_format(
        mgr: GuildDatabaseManager, at: object) -> None:
    async with mgr.connect(11) as db:
        await populate(db, n=1)
    journal = forget_journal(mgr.root, ALICE)
    journal.append({"state": "begun", "at": at})
    before = receipt_now()

    await forget_user(mgr, ALICE)

    async with mgr.connect_bot() as bot_db:
        everywhere = [r for r in await list_receipts(bot_db) if r.guild_id is None]
    (receipt,) = everywhere
    assert RECEIPT_TIME.fullmatch(receipt.deleted_at), receipt.deleted_at
    assert moment(receipt.deleted_at) <= moment(receipt_now()) and receipt.deleted_at >= before


def test_receipt_now_has_the_form_sqlite_writes() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        sqlite = conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')").fetchone()[0]
    finally:
        conn.close()
    ours = receipt_now()
    assert RECEIPT_TIME.fullmatch(sqlite) and RECEIPT_TIME.fullmatch(ours)
    assert len(ours) == len(sqlite) and ours >= sqlite


def test_a_torn_begun_line_is_passed_over(tmp_path: Path) -> None:
    journal = forget_journal(tmp_path, ALICE)
    journal.path.write_text('{"state": "begun", "at": "2026-\n' + json.dumps({"state": "done", "guild_id": 1}) + "\n")
    assert journal.begun_at() is None and set(journal.done()) == {1}


@pytest.mark.asyncio
async def test_a_guild_whose_file_is_gone_when_forget_reaches_it_is_covered_for_copies_taken_during_the_run(
        mgr: GuildDatabaseManager) -> None:
    # The every-guild receipt is dated when the run began: a backup taken after that (while the run went over
    # the other guilds) holds the member in a guild whose file was then set aside before the run reached it.
    # Dated at the run's end, the receipt used to cover that copy; now a restore of it brings the member back.
    from app.backup.receipts import read_receipts

    for guild_id in (11, 22):
        async with mgr.connect(guild_id) as db:
            await populate(db, n=1)
    copied: list[str] = []

    def set_aside_during(guild_ids: Sequence[int]) -> Iterable[int]:
        for guild_id in guild_ids:
            if guild_id == 22:
                copied.append(receipt_now())  # a backup copies 22 now, with the member in it
                path = mgr.path_for(22)
                path.rename(path.with_name(path.name + ".set-aside"))
            yield guild_id

    await forget_user(mgr, ALICE, progress=set_aside_during)

    receipts = read_receipts(mgr.root)
    assert ALICE in receipts.erased_after(22, copied[0].replace("Z", "+00:00"))
