"""MAX_GUILD_DB_MB: SQLite's max_page_count on every guild connection, one sentence when full, warnings at 80 %."""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from app.cli import main
from app.config import Settings
from app.db import GuildDatabaseManager, GuildDb
from app.db.files import OpenOptions
from app.ops import quota
from app.sandbox.harness import running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B

ROW = 100_000  # bytes of text per row: ten rows ≈ 1 MB


def _quota_of(mb: int) -> OpenOptions:
    return OpenOptions(max_page_count=quota.max_page_count(mb))


async def _write_rows(db: GuildDb, count: int, prefix: str = "k") -> None:
    async with db.transaction():
        for i in range(count):
            await db.execute("INSERT INTO guild_settings (key, value) VALUES (?, ?)", (f"{prefix}{i}", "x" * ROW))


async def _rows(db: GuildDb) -> int:
    row = await db.execute_fetchone("SELECT count(*) FROM guild_settings")
    assert row is not None
    return int(row[0])


async def _fill(root: Path, guild_id: int, rows: int) -> None:
    async with GuildDatabaseManager(root, max_open=2) as manager, manager.connect(guild_id) as db:
        await _write_rows(db, rows)
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.asyncio
async def test_the_files_page_size_is_the_one_the_quota_counts_in(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2) as manager, manager.connect(GUILD_A) as db:
        row = await db.execute_fetchone("PRAGMA page_size")
    assert row is not None and row[0] == quota.PAGE_SIZE
    assert quota.max_page_count(100) * quota.PAGE_SIZE == 100 * 1024 * 1024


@pytest.mark.asyncio
async def test_a_write_past_the_quota_fails_and_nothing_of_it_is_written(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=_quota_of(1)) as manager, \
            manager.connect(GUILD_A) as db:
        await _write_rows(db, 3, prefix="kept")
        with pytest.raises(sqlite3.OperationalError) as caught:
            await _write_rows(db, 20)
        rows = await _rows(db)
    assert quota.find_storage_full([caught.value]) is caught.value
    assert rows == 3  # the earlier transaction stays; none of the refused one's rows


@pytest.mark.asyncio
async def test_the_bot_wide_file_has_no_guild_quota(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=_quota_of(1)) as manager, \
            manager.connect_bot() as bot_db:
        async with bot_db.transaction():
            for i in range(20):
                await bot_db.execute("INSERT INTO bot_settings (key, value) VALUES (?, ?)", (f"k{i}", "x" * ROW))
        row = await bot_db.execute_fetchone("SELECT count(*) FROM bot_settings WHERE key LIKE 'k%'")
    assert row is not None and row[0] == 20


@pytest.mark.asyncio
async def test_raising_the_quota_takes_effect_when_the_file_is_next_opened(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, max_open=2, options=_quota_of(1)) as manager, \
            manager.connect(GUILD_A) as db:
        with pytest.raises(sqlite3.OperationalError):
            await _write_rows(db, 20)
    async with GuildDatabaseManager(tmp_path, max_open=2, options=_quota_of(4)) as manager, \
            manager.connect(GUILD_A) as db:
        await _write_rows(db, 20)
        assert await _rows(db) == 20


@pytest.mark.asyncio
async def test_a_command_whose_write_hits_the_quota_gets_one_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async def writes_too_much(db: GuildDb) -> None:
        await _write_rows(db, 20)

    monkeypatch.setattr("app.extensions.server.fetch_guild_report", writes_too_much)
    settings = dataclasses.replace(Settings(), max_guild_db_mb=1)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A], settings=settings) as h:
        with caplog.at_level(logging.WARNING):
            reply = await h.command(GUILD_A, ADMIN, "server info", admin=True)
        async with h.bot.manager.connect(GUILD_A) as db:
            rows = await _rows(db)
        metrics = h.bot.ops.metrics
        full = metrics.storage_full._value.get()
        user_errors = metrics.commands.labels("server info", "user_error")._value.get()

    assert reply.ephemeral
    assert reply.content == quota.storage_full_message(1)
    assert reply.content.startswith("This server's storage is full (1 MB)")
    assert rows == 0
    assert (full, user_errors) == (1, 1)
    assert any("reached its storage quota" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)  # not an internal error


@pytest.mark.asyncio
async def test_server_info_warns_from_80_percent_and_the_log_says_it_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "guild_dbs"
    await _fill(root, GUILD_A, 8)  # 80–100 % of a 1 MB quota (1 KiB pages: an empty file is 52 KiB)
    await _fill(root, GUILD_B, 1)
    settings = dataclasses.replace(Settings(), max_guild_db_mb=1)
    async with running_bot(root, guilds=[GUILD_A, GUILD_B], settings=settings) as h:
        with caplog.at_level(logging.WARNING, logger="app.ops.quota"):
            near = [await h.command(GUILD_A, ADMIN, "server info", admin=True) for _ in range(2)]
            far = await h.command(GUILD_B, ADMIN, "server info", admin=True)

    fields = {f["name"]: f["value"] for f in near[0].embeds[0]["fields"]}
    assert re.match(r"This server.s storage is (8[0-9]|9[0-9])% full", fields["Storage nearly full"])
    assert "limit 1 MB" in fields["Storage nearly full"]
    far_fields = {f["name"]: f["value"] for f in far.embeds[0]["fields"]}
    assert "Storage nearly full" not in far_fields
    assert far_fields["Storage limit"].endswith("of 1 MB used")
    warnings = [r.getMessage() for r in caplog.records if r.name == "app.ops.quota"]
    assert len(warnings) == 1 and str(GUILD_A) in warnings[0]


@pytest.mark.asyncio
async def test_guild_list_over_shows_only_the_servers_near_their_quota(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "guild_dbs"
    await _fill(root, GUILD_A, 8)
    await _fill(root, GUILD_B, 1)
    monkeypatch.setenv("GUILD_DBS_DIR", str(root))
    monkeypatch.setenv("MAX_GUILD_DB_MB", "1")

    assert main(["guild", "list", "--over", "80%", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert main(["guild", "list", "--over", "80%"]) == 0
    text = capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["guild", "list", "--over", "eighty"])
    assert refused.value.code == 2
    assert "'eighty' is not a percentage such as 80%" in capsys.readouterr().err

    assert [g["guild_id"] for g in listed["guilds"]] == [GUILD_A]
    assert 0.8 <= listed["guilds"][0]["quota_used"] < 1
    assert str(GUILD_A) in text and str(GUILD_B) not in text


def test_a_guilds_file_is_measured_at_most_once_a_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After every command: stat-ing a file and its three side files was a tenth of a /ping."""
    path = tmp_path / "1.sqlite3"
    path.write_bytes(b"\0" * 100)
    sizes: list[Path] = []
    real_size = quota.file_size

    def counted(p: Path) -> int:
        sizes.append(p)
        return real_size(p)

    now = [1000.0]
    monkeypatch.setattr(quota, "file_size", counted)
    watch = quota.QuotaWatch(1, clock=lambda: now[0])
    assert watch.check(1, path) is False
    path.write_bytes(b"\0" * quota.quota_bytes(1))  # full now, but within the period: not looked at
    now[0] += quota.CHECK_EVERY_S - 1
    assert watch.check(1, path) is False
    assert len(sizes) == 1
    now[0] += 2
    assert watch.check(1, path) is True
    assert watch.check(2, tmp_path / "2.sqlite3") is False  # other guilds have their own period
    assert len(sizes) == 3
