"""Property: whatever the rows, erasing a member leaves no trace of them and costs others nothing of theirs."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.db import GuildDatabaseManager, GuildDb
from app.rights.member import erase_member
from app.rights.subjects import SUBJECT_MAP

MEMBERS = st.integers(min_value=1, max_value=4)
KINDS = ["user", "progress", "invite_use", "leave", "rec", "challenge", "setting", "xp", "invite", "recruit"]
FACTS = st.lists(st.tuples(st.sampled_from(KINDS), MEMBERS, MEMBERS, st.integers(0, 3)), max_size=40)

INSERTS = {
    "user": ["INSERT OR IGNORE INTO users (discord_id, username) VALUES (:a, 'u')"],
    "progress": ["INSERT OR IGNORE INTO user_manga_progress (discord_id, manga_id) VALUES (:a, :n)"],
    "invite_use": ["INSERT INTO invite_uses (inviter_id, joiner_id) VALUES (:a, :b)"],
    "leave": ["INSERT INTO user_leaves (user_id, inviter_id) VALUES (:a, :b)"],
    "rec": ["INSERT INTO recommendations (discord_id, manga_id) VALUES (:a, :n)",
            "INSERT OR IGNORE INTO recommendation_feedback VALUES (last_insert_rowid(), :b, 1)"],
    "challenge": ["INSERT INTO challenges (title, created_by) VALUES ('c', :a)",
                  "INSERT OR IGNORE INTO user_progress (discord_id, challenge_id, manga_id) "
                  "VALUES (:b, last_insert_rowid(), :n)"],
    "setting": ["INSERT OR REPLACE INTO guild_settings (key, value, updated_by) VALUES ('k' || :n, '1', :a)"],
    "xp": ["INSERT OR IGNORE INTO user_xp (discord_id, xp) VALUES (:a, :n)"],
    "invite": ["INSERT OR IGNORE INTO invites (code, inviter_id) VALUES ('c' || :a || :n, :a)"],
    "recruit": ["INSERT OR IGNORE INTO recruitment_stats (inviter_id) VALUES (:a)"],
}


async def _subject_counts(db: GuildDb, member: int) -> dict[str, int]:
    counts = {}
    for table, policy in SUBJECT_MAP.items():
        if policy.subject:
            where = " OR ".join(f'"{c}" = :m' for c in policy.subject)
            (row,) = await db.execute_fetchall(f'SELECT COUNT(*) FROM "{table}" WHERE {where}', {"m": member})
            counts[table] = row[0]
    return counts


async def _traces(db: GuildDb, member: int) -> int:
    total = 0
    for table, policy in SUBJECT_MAP.items():
        for column in policy.subject + policy.counterpart:
            (row,) = await db.execute_fetchall(f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" = ?', (member,))
            total += row[0]
    return total


async def _scenario(root: Path, facts: list[tuple[str, int, int, int]], target: int) -> None:
    async with GuildDatabaseManager(root, max_open=1) as mgr, mgr.connect(7) as db:
        async with db.transaction():
            for kind, a, b, n in facts:
                for sql in INSERTS[kind]:
                    await db.execute(sql, {"a": a, "b": b, "n": n})
        others = [m for m in range(1, 5) if m != target]
        before = {m: await _subject_counts(db, m) for m in others}
        lost = {m: (await db.execute_fetchall(
            "SELECT COUNT(*) FROM recommendation_feedback f JOIN recommendations r ON r.id = f.recommendation_id "
            "WHERE r.discord_id = ? AND f.discord_id = ? AND f.discord_id != r.discord_id", (target, m)))[0][0]
            for m in others}
        await erase_member(db, target)
        assert await _traces(db, target) == 0
        for m in others:
            expected = dict(before[m], recommendation_feedback=before[m]["recommendation_feedback"] - lost[m])
            assert await _subject_counts(db, m) == expected


@settings(max_examples=40, deadline=None)
@given(facts=FACTS, target=MEMBERS)
def test_erasure_leaves_no_trace_and_takes_nothing_else(facts: list[tuple[str, int, int, int]], target: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_scenario(Path(tmp), facts, target))
