"""The shared store without the bot: the rebuild command, several processes writing at once, the rights paths."""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.features.xp import add_xp
from app.shared.consent import join_here, start_sharing
from app.shared.figures import MemberFigures, ServerFigures
from app.shared.publish import (
    fetch_published_member,
    forget_published_member,
    forget_published_server,
    leave_member,
    publish_figures,
    withdraw_server,
)
from app.shared.store import STORE_FILE_NAME, SharedStore

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUILD_DBS_DIR": str(root), "MAX_OPEN_GUILD_DBS": "2"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


async def _share(root: Path, sharing: dict[int, dict[int, int]], quiet: dict[int, dict[int, int]]) -> None:
    """Guild files with XP; the `sharing` ones share and all their members join."""
    async with GuildDatabaseManager(root, max_open=2) as manager:
        shared = SharedStore(root)
        try:
            for guild_id, xp in {**sharing, **quiet}.items():
                async with manager.connect(guild_id) as db:
                    await add_xp(db, list(xp.items()))
                    if guild_id in sharing:
                        await start_sharing(shared, db, f"server {guild_id}", allow_compare=True, now=NOW)
                        for user_id in xp:
                            await join_here(shared, db, user_id, None, f"user {user_id}", NOW)
        finally:
            await shared.close()


def _store(root: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(root / STORE_FILE_NAME)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_rebuild_reports_no_difference_then_repairs_and_names_a_tampered_value(tmp_path: Path) -> None:
    await _share(tmp_path, {11: {1: 500, 2: 40}, 12: {1: 200}}, {13: {1: 9000, 3: 70}})
    clean = json.loads(run_cli(tmp_path, "global", "rebuild", "--json").stdout)
    _store(tmp_path, "UPDATE members SET xp = 1 WHERE user_id = 1")
    (tmp_path / "12.sqlite3").unlink()  # a sharing server's file gone behind the store's back
    repaired = run_cli(tmp_path, "global", "rebuild")

    assert clean == {"servers": 2, "members": 2, "guild_files": 3, "withdrawn": [], "differences": []}
    assert repaired.returncode == 0, repaired.stderr
    assert "member 1: (0, 1, 3, 0) → (0, 500, 2, 0)" in repaired.stdout  # (chapters, xp, level, achievements)
    assert "server 12: (0, 0, 0, '[]', 0) → absent" in repaired.stdout
    assert "server 12: shared, but its file is gone: withdrawn" in repaired.stdout
    assert _store(tmp_path, "SELECT user_id, xp FROM members ORDER BY user_id") == [(1, 500), (2, 40)]


@pytest.mark.asyncio
async def test_rebuild_without_a_store_creates_none(tmp_path: Path) -> None:
    await _share(tmp_path, {}, {13: {1: 9000}})
    done = run_cli(tmp_path, "global", "rebuild")

    assert done.returncode == 0, done.stderr
    assert "Rebuilt 0 sharing server(s) and 0 member(s) from 1 guild file(s): no difference" in done.stdout
    assert not (tmp_path / STORE_FILE_NAME).exists()


_WRITER = textwrap.dedent("""
    import asyncio, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from app.shared.figures import MemberFigures
    from app.shared.publish import join_member
    from app.shared.store import SharedStore

    async def main(root, first, count):
        shared = SharedStore(Path(root))
        try:
            db = await shared.db()
            for user_id in range(first, first + count):
                await join_member(db, 11, user_id, None, f"u{user_id}", MemberFigures(user_id, 1, 0),
                                  datetime.now(UTC))
        finally:
            await shared.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
""")


def test_two_processes_publish_into_the_store_at_once_and_lose_nothing(tmp_path: Path) -> None:
    asyncio.run(_share(tmp_path, {11: {}}, {}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(first), "150"], cwd=REPO,
                                env=env, stderr=subprocess.PIPE, text=True) for first in (1_000, 2_000)]
    errors = [w.communicate(timeout=120)[1] for w in writers]

    assert [w.returncode for w in writers] == [0, 0], errors
    assert _store(tmp_path, "SELECT COUNT(*), SUM(xp) FROM members") == [(300, 300)]
    assert _store(tmp_path, "SELECT COUNT(*) FROM member_joins WHERE guild_id = 11") == [(300,)]


@pytest.mark.asyncio
async def test_rights_paths_act_on_the_store_file_and_never_create_it(tmp_path: Path) -> None:
    assert await forget_published_member(tmp_path, 1) is False
    assert await fetch_published_member(tmp_path, 1) is None
    assert not (tmp_path / STORE_FILE_NAME).exists()
    await _share(tmp_path, {11: {1: 500}, 12: {1: 200, 2: 50}}, {})

    exported = await fetch_published_member(tmp_path, 1)
    withdrawn = await forget_published_server(tmp_path, 12, NOW)
    after_withdrawal = await fetch_published_member(tmp_path, 1)
    forgotten = await forget_published_member(tmp_path, 1)

    assert exported is not None and exported["xp"] == 700 and exported["level"] == 3
    assert withdrawn is True
    assert after_withdrawal is not None and after_withdrawal["xp"] == 500
    assert after_withdrawal["from_servers"] == [{"guild_id": 11, "chapters": 0, "xp": 500, "achievements": 0}]
    assert forgotten is True and await fetch_published_member(tmp_path, 1) is None
    assert _store(tmp_path, "SELECT user_id FROM members") == []  # member 2 went with server 12


@pytest.mark.asyncio
async def test_a_publish_that_raced_with_withdrawals_brings_nothing_back(tmp_path: Path) -> None:
    await _share(tmp_path, {11: {1: 500, 2: 40}}, {})
    shared = SharedStore(tmp_path)
    try:
        store = await shared.db()
        await leave_member(store, 1)  # figures computed before this arrive after it
        await publish_figures(store, 11, None, {1: MemberFigures(5, 600, 1), 2: MemberFigures(0, 45, 0)}, NOW)
        await withdraw_server(store, 11, NOW)
        await publish_figures(store, 11, ServerFigures(3, 3, 3, (), 0), {2: MemberFigures(0, 50, 0)}, NOW)
    finally:
        await shared.close()

    assert _store(tmp_path, "SELECT COUNT(*) FROM servers") == [(0,)]
    assert _store(tmp_path, "SELECT COUNT(*) FROM members") == [(0,)]
    assert _store(tmp_path, "SELECT COUNT(*) FROM member_joins") == [(0,)]


@pytest.mark.asyncio
async def test_a_members_published_achievements_are_those_achievements_shows(tmp_path: Path) -> None:
    # keys the legacy bot left (first_login, bookworm_100 …) are not shown by /achievements, /profile or the
    # server's board: the cross-server figures count the same achievements
    from app.features.achievements import RULES
    from app.shared.figures import member_figures

    async with GuildDatabaseManager(tmp_path) as manager, manager.connect(11) as db:
        await db.executemany("INSERT INTO achievements (discord_id, achievement_key) VALUES (?, ?)",
                             [(1, RULES[0].key), (1, "first_login"), (1, "bookworm_100")])
        figures = await db.run(lambda conn: member_figures(conn, [1]))
    assert figures[1].achievements == 1
