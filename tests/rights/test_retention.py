from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager, registry
from app.rights.receipts import RETENTION, list_receipts
from app.rights.retention import purge_expired, run_retention_forever
from app.shared.consent import start_sharing
from app.shared.store import SharedStore, connect_store
from tests.rights.conftest import populate

LEFT, REJOINED, RECENT, NO_FILE = 111, 222, 333, 444
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _scenario(mgr: GuildDatabaseManager) -> None:
    for guild_id in (LEFT, REJOINED, RECENT):
        async with mgr.connect(guild_id) as db:
            await populate(db, n=1)
    async with mgr.connect_bot() as bot_db:
        for guild_id in (LEFT, REJOINED, RECENT, NO_FILE):
            await registry.record_join(bot_db, guild_id, now=T0)
        for guild_id in (LEFT, REJOINED, NO_FILE):
            await registry.record_leave(bot_db, guild_id, retention_days=30, now=T0)
        await registry.record_leave(bot_db, RECENT, retention_days=30, now=T0 + timedelta(days=20))
        await registry.record_join(bot_db, REJOINED, now=T0 + timedelta(days=10))  # added back


@pytest.mark.asyncio
async def test_purge_deletes_expired_guilds_and_honours_rejoin(mgr: GuildDatabaseManager) -> None:
    await _scenario(mgr)
    results = await purge_expired(mgr, now=T0 + timedelta(days=31))
    assert {r.guild_id: r.outcome for r in results} == {LEFT: "deleted", NO_FILE: "no file"}
    assert mgr.guild_ids_on_disk() == [REJOINED, RECENT]
    async with mgr.connect_bot() as bot_db:
        receipts = await list_receipts(bot_db)
        left = await registry.fetch_entry(bot_db, LEFT)
        again = await purge_expired(mgr, now=T0 + timedelta(days=31))
    assert [(r.guild_id, r.requested_by) for r in receipts] == [(LEFT, RETENTION)]
    assert left is not None and left.left_at is not None and left.purge_after is None
    assert again == []


@pytest.mark.asyncio
async def test_dry_run_lists_what_would_go_and_changes_nothing(mgr: GuildDatabaseManager) -> None:
    await _scenario(mgr)
    results = await purge_expired(mgr, now=T0 + timedelta(days=60), dry_run=True)
    assert {r.guild_id: r.outcome for r in results} == {LEFT: "would delete", NO_FILE: "no file",
                                                         RECENT: "would delete"}
    assert mgr.guild_ids_on_disk() == [LEFT, REJOINED, RECENT]
    async with mgr.connect_bot() as bot_db:
        assert await list_receipts(bot_db) == []
        assert len(await registry.list_expired(bot_db, now=T0 + timedelta(days=60))) == 3


@pytest.mark.asyncio
async def test_zero_retention_days_purges_at_once(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(LEFT) as db:
        await populate(db, n=1)
    async with mgr.connect_bot() as bot_db:
        await registry.record_leave(bot_db, LEFT, retention_days=0)
    results = await purge_expired(mgr)
    assert [(r.guild_id, r.outcome) for r in results] == [(LEFT, "deleted")]
    assert not mgr.path_for(LEFT).exists()


@pytest.mark.asyncio
async def test_the_scheduler_purges_in_the_background_until_cancelled(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(LEFT) as db:
        await populate(db, n=1)
    task = asyncio.create_task(run_retention_forever(mgr, interval_s=0.01))
    await asyncio.sleep(0.05)
    assert mgr.path_for(LEFT).exists()  # not left yet: kept
    async with mgr.connect_bot() as bot_db:
        await registry.record_leave(bot_db, LEFT, retention_days=0)
    async with asyncio.timeout(10):  # a round's deletion is file work: past 2 s now and then on a loaded machine
        while mgr.path_for(LEFT).exists():
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not mgr.path_for(LEFT).exists()


@pytest.mark.asyncio
async def test_a_failing_round_is_logged_and_the_next_one_still_runs(
        mgr: GuildDatabaseManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from app.errors import GuildDatabaseError
    from app.rights import retention

    async with mgr.connect(LEFT) as db:
        await populate(db, n=1)
    async with mgr.connect_bot() as bot_db:
        await registry.record_leave(bot_db, LEFT, retention_days=0)
    calls: list[int] = []
    real = retention.purge_expired

    async def flaky(manager: GuildDatabaseManager, **kwargs: object) -> list:
        calls.append(1)
        if len(calls) == 1:
            raise GuildDatabaseError("bot-wide file unavailable")
        return await real(manager)

    monkeypatch.setattr(retention, "purge_expired", flaky)
    task = asyncio.create_task(run_retention_forever(mgr, interval_s=0.01))
    for _ in range(500):  # at most ~5 s: a loop that died after the failure ends the wait
        if task.done() or not mgr.path_for(LEFT).exists():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # a task that died re-raises its own error here
        await task
    assert len(calls) >= 2
    assert not mgr.path_for(LEFT).exists()  # the round after the failing one did its work
    assert "retention purge round failed: bot-wide file unavailable" in caplog.text


class _Killed(BaseException):
    """The process dies here (kill -9): no handler of the code under test runs."""


async def _sharing_row(root: Path, guild_id: int) -> list[tuple[object, ...]]:
    async with connect_store(root) as store:
        assert store is not None
        return [tuple(r) for r in await store.execute_fetchall("SELECT guild_id, name FROM servers WHERE "
                                                                "guild_id = ?", (guild_id,))]


@pytest.mark.asyncio
async def test_a_purge_killed_midway_leaves_no_published_row_of_the_deleted_server_after_the_rerun(
        mgr: GuildDatabaseManager, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.rights import guild_delete

    async with mgr.connect(LEFT) as db:
        await populate(db, n=1)
        shared = SharedStore(mgr.root)
        try:
            await start_sharing(shared, db, "Left Server", allow_compare=True, now=T0)
        finally:
            await shared.close()
    async with mgr.connect_bot() as bot_db:
        await registry.record_leave(bot_db, LEFT, retention_days=30, now=T0)
    assert await _sharing_row(mgr.root, LEFT) == [(LEFT, "Left Server")]

    async def killed(*_: object) -> bool:
        raise _Killed
    with monkeypatch.context() as patch:
        patch.setattr(guild_delete, "forget_published_server", killed)
        with pytest.raises(_Killed):
            await purge_expired(mgr, now=T0 + timedelta(days=31))
    await mgr.close_all()
    async with GuildDatabaseManager(mgr.root, max_open=2) as restarted:  # the bot starts again: its first round
        again = await purge_expired(restarted, now=T0 + timedelta(days=31, hours=1))
        async with restarted.connect_bot() as bot_db:
            receipts = await list_receipts(bot_db, guild_id=LEFT)
            entry = await registry.fetch_entry(bot_db, LEFT)

    assert [r.outcome for r in again] in (["deleted"], ["no file"])
    assert not mgr.path_for(LEFT).exists() and receipts  # the file gone, its deletion recorded
    assert entry is not None and entry.purge_after is None
    assert await _sharing_row(mgr.root, LEFT) == []  # nor its name and figures left across servers


@pytest.mark.asyncio
async def test_a_rejoin_while_the_purge_waits_for_the_guilds_work_keeps_its_file(mgr: GuildDatabaseManager) -> None:
    # The purge decides, then waits for the guild's in-flight work before deleting: a GUILD_CREATE handled
    # meanwhile (the bot added back) must win, as it does when it comes before the decision.
    await _scenario(mgr)
    async with mgr.connect(LEFT) as db:  # in-flight work on the guild: the deletion's hold waits for it
        purge = asyncio.create_task(purge_expired(mgr, now=T0 + timedelta(days=31)))
        for _ in range(500):  # until the purge holds the guild, waiting for this lease
            if LEFT in mgr._gates:
                break
            await asyncio.sleep(0.001)
        assert LEFT in mgr._gates and not purge.done()
        async with mgr.connect_bot() as bot_db:
            await registry.record_join(bot_db, LEFT, now=T0 + timedelta(days=31))
        await db.execute_fetchall("SELECT 1")
    results = await purge
    assert {r.guild_id: r.outcome for r in results}[LEFT] == "rejoined"
    assert LEFT in mgr.guild_ids_on_disk()
    async with mgr.connect_bot() as bot_db:
        assert [r.guild_id for r in await list_receipts(bot_db)] == []


@pytest.mark.asyncio
async def test_added_back_and_removed_again_while_the_purge_waits_starts_a_new_retention_period(
        mgr: GuildDatabaseManager) -> None:
    # The purge's second look must read the guild's purge time as it is now, not only whether it has one: the
    # bot removed again gets its full retention period from that second leave.
    await _scenario(mgr)
    moment = T0 + timedelta(days=31)
    async with mgr.connect(LEFT) as db:
        purge = asyncio.create_task(purge_expired(mgr, now=moment))
        for _ in range(500):
            if LEFT in mgr._gates:
                break
            await asyncio.sleep(0.001)
        async with mgr.connect_bot() as bot_db:
            await registry.record_join(bot_db, LEFT, now=moment)
            await registry.record_leave(bot_db, LEFT, retention_days=30, now=moment)
        await db.execute_fetchall("SELECT 1")
    results = {r.guild_id: r.outcome for r in await purge}
    assert results[LEFT] == "rejoined" and LEFT in mgr.guild_ids_on_disk()
    later = {r.guild_id: r.outcome for r in await purge_expired(mgr, now=moment + timedelta(days=30))}
    assert later[LEFT] == "deleted"  # exactly 30 days after the second leave: due, as at the first


@pytest.mark.asyncio
async def test_a_second_leave_event_does_not_push_the_purge_back(mgr: GuildDatabaseManager) -> None:
    """Discord may deliver a GUILD_DELETE twice (a resumed session): the retention counts from the first."""
    async with mgr.connect(LEFT) as db:
        await populate(db, n=1)
    async with mgr.connect_bot() as bot_db:
        await registry.record_leave(bot_db, LEFT, retention_days=30, now=T0)
        await registry.record_leave(bot_db, LEFT, retention_days=30, now=T0 + timedelta(days=20))
    results = await purge_expired(mgr, now=T0 + timedelta(days=31))
    assert [(r.guild_id, r.outcome) for r in results] == [(LEFT, "deleted")]
