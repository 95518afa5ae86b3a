from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.errors import GuildDatabaseError
from app.features.achievements import fetch_member_facts
from app.features.progress import record_chapter
from app.rights.member import erase_member, export_member
from app.rights.subjects import SUBJECT_MAP, check_against
from app.services.anilist_models import Media
from tests.rights.conftest import ALICE, BOB, CAROL, dump, populate

GUILD = 8080


def _template() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(GUILD_SCHEMA.sql_path.read_text(encoding="utf-8"))
    return conn


def test_the_subject_map_covers_every_table_and_person_column_of_the_schema() -> None:
    conn = _template()
    try:
        assert check_against(conn) == []
    finally:
        conn.close()


def test_a_table_added_later_is_reported_until_it_is_mapped() -> None:
    conn = _template()
    try:
        conn.execute("CREATE TABLE reading_clubs (club_id INTEGER PRIMARY KEY, owner_id INTEGER, name TEXT)")
        conn.execute("ALTER TABLE users ADD COLUMN referred_by INTEGER")
        problems = check_against(conn)
    finally:
        conn.close()
    assert problems == ["table reading_clubs is not in the subject map",
                        "users.referred_by looks like a person but is not classified"]


def _member_refs(rows: dict[str, list[tuple[Any, ...]]], conn: sqlite3.Connection, who: int,
                 kind: str) -> dict[str, int]:
    found = {}
    for table, policy in SUBJECT_MAP.items():
        names = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        for column in getattr(policy, kind):
            i = names.index(column)
            found[f"{table}.{column}"] = sum(1 for row in rows[table] if row[i] == who)
    return found


@pytest.mark.asyncio
async def test_erasure_removes_every_row_of_the_member_table_by_table(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        before = await db.run(dump)
        erased = await erase_member(db, ALICE)
        after = await db.run(dump)
        subject_before = await db.run(lambda c: _member_refs(before, c, ALICE, "subject"))
        subject_after = await db.run(lambda c: _member_refs(after, c, ALICE, "subject"))
        counterpart_after = await db.run(lambda c: _member_refs(after, c, ALICE, "counterpart"))
        bob_after = await db.run(lambda c: _member_refs(after, c, BOB, "subject"))
        bob_before = await db.run(lambda c: _member_refs(before, c, BOB, "subject"))
    mapped_subject_tables = {t for t, p in SUBJECT_MAP.items() if p.subject}
    assert {k.split(".")[0] for k, n in subject_before.items() if n} == mapped_subject_tables  # fixture covers all
    assert set(subject_after.values()) == {0}
    assert set(counterpart_after.values()) == {0}
    # other members keep their rows, except BOB's vote on a recommendation made for ALICE
    assert {k: v for k, v in bob_after.items() if v != bob_before[k]} == {"recommendation_feedback.discord_id": 1}
    assert erased.neutralized == {"challenges": 1, "guild_settings": 1, "invite_uses": 1, "user_leaves": 1}
    assert erased.rows_deleted == sum(len(before[t]) - len(after[t]) for t in before)


@pytest.mark.asyncio
async def test_erasure_removes_the_members_reading_days_and_with_them_the_streak(mgr: GuildDatabaseManager) -> None:
    start, manga = datetime(2026, 3, 1, 20, tzinfo=UTC), Media(id=30013, english="One Piece")
    async with mgr.connect(GUILD) as db:
        for day in range(7):
            await record_chapter(db, manga, ALICE, "alice", day, now=start + timedelta(days=day))
        await record_chapter(db, manga, BOB, "bob", 1, now=start)
        exported = await export_member(db, ALICE)
        streak_before = (await fetch_member_facts(db, ALICE)).streak_days
        await erase_member(db, ALICE)
        left = [tuple(r) for r in await db.execute_fetchall("SELECT discord_id, day FROM reading_days ORDER BY 1, 2")]
        streak_after = (await fetch_member_facts(db, ALICE)).streak_days
    assert [row["day"] for row in exported["tables"]["reading_days"]] == [f"2026-03-0{d}" for d in range(1, 8)]
    assert (streak_before, streak_after) == (7, 0)
    assert left == [(BOB, "2026-03-01")]


@pytest.mark.asyncio
async def test_neutralized_references_keep_the_other_members_rows(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        await erase_member(db, BOB)
        (join,) = await db.execute_fetchall("SELECT inviter_id, joiner_id FROM invite_uses WHERE joiner_id = ?",
                                           (ALICE,))
        (leave,) = await db.execute_fetchall("SELECT inviter_id FROM user_leaves WHERE user_id = ?", (ALICE,))
        (challenge,) = await db.execute_fetchall("SELECT created_by FROM challenges WHERE title = 'ch1002'")
    assert tuple(join) == (None, ALICE)
    assert tuple(leave) == (None,)
    assert tuple(challenge) == (None,)


@pytest.mark.asyncio
async def test_erasure_is_all_or_nothing(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        await db.executescript("CREATE TRIGGER no_xp_delete BEFORE DELETE ON user_xp "
                               "BEGIN SELECT RAISE(ABORT, 'refused'); END;")
        before = await db.run(dump)
        with pytest.raises(sqlite3.IntegrityError):
            await erase_member(db, CAROL)
        after = await db.run(dump)
    assert after == before


@pytest.mark.asyncio
async def test_erasure_refuses_a_file_with_an_unmapped_table(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        await db.executescript("CREATE TABLE notes (author_id INTEGER, body TEXT)")
        with pytest.raises(GuildDatabaseError):
            await erase_member(db, ALICE)
        with pytest.raises(GuildDatabaseError):
            await export_member(db, ALICE)
        assert (await db.execute_fetchall("SELECT COUNT(*) FROM users WHERE discord_id = ?", (ALICE,)))[0][0] == 1


@pytest.mark.asyncio
async def test_member_export_holds_exactly_the_members_own_rows(mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        before = await db.run(dump)
        subject = await db.run(lambda c: _member_refs(before, c, ALICE, "subject"))
        exported = await export_member(db, ALICE)
    json.dumps(exported)  # JSON-ready
    per_table: dict[str, int] = {}
    for key, n in subject.items():
        per_table[key.split(".")[0]] = per_table.get(key.split(".")[0], 0) + n
    assert {t: len(rows) for t, rows in exported["tables"].items()} == {t: n for t, n in per_table.items() if n}
    assert exported["mentioned_as_counterpart"] == {"challenges.created_by": 1, "guild_settings.updated_by": 1,
                                                    "invite_uses.inviter_id": 1, "user_leaves.inviter_id": 1}
    assert all(row["discord_id"] == ALICE for row in exported["tables"]["users"])
    assert exported["guild_id"] == GUILD and exported["user_id"] == ALICE


def _raw(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.mark.asyncio
async def test_erased_bytes_leave_the_wal_once_a_reader_that_held_an_older_snapshot_finishes(
        mgr: GuildDatabaseManager) -> None:
    marker = "Zq-reader-erase-91"
    async with mgr.connect(GUILD) as db:
        await populate(db)
        await db.execute("UPDATE users SET username = ? WHERE discord_id = ?", (marker, ALICE))
    path = mgr.path_for(GUILD)
    # an export in progress (or a replica's reader) keeps the checkpoint from finishing for a moment
    reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM users").fetchall()

    async def erase() -> int:
        async with mgr.connect(GUILD) as db:
            return (await erase_member(db, ALICE)).rows_deleted
    task = asyncio.create_task(erase())
    await asyncio.sleep(0.3)
    reader.execute("COMMIT")
    reader.close()
    deleted = await asyncio.wait_for(task, timeout=20)

    assert deleted > 0
    assert marker.encode() not in _raw(path)
