from __future__ import annotations

import asyncio
import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.db import GuildDatabaseManager
from app.errors import AlreadyExistsError, InvalidInputError
from app.rights.export import export_guild
from tests.rights.conftest import dump, dump_file, populate

GUILD = 4242


def _rows_from_zip(path: Path) -> tuple[dict[str, Any], dict[str, list[tuple[Any, ...]]]]:
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        tables = {}
        for name in manifest["tables"]:
            doc = json.loads(archive.read(f"tables/{name}.json"))
            tables[name] = sorted(tuple(row[c] for c in doc["columns"]) for row in doc["rows"])
    return manifest, tables


@pytest.mark.asyncio
async def test_sqlite_export_holds_every_row_of_every_table(mgr: GuildDatabaseManager, tmp_path: Path) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        expected = await db.run(dump)
        result = await export_guild(db, tmp_path / "out" / "g.sqlite3")
    assert dump_file(result.path) == expected
    assert result.tables == {t: len(rows) for t, rows in expected.items()}
    assert not list((tmp_path / "out").glob("g.sqlite3-*"))  # self-contained: no -wal, no -shm
    assert result.path.read_bytes()[18:20] == b"\x01\x01"  # rollback-journal header, not WAL


@pytest.mark.asyncio
async def test_json_export_holds_every_row_of_every_table_with_a_manifest(
        mgr: GuildDatabaseManager, tmp_path: Path) -> None:
    async with mgr.connect(GUILD) as db:
        await populate(db)
        expected = await db.run(dump)
        result = await export_guild(db, tmp_path / "g.zip", fmt="json")
    manifest, tables = _rows_from_zip(result.path)
    assert tables == expected
    assert manifest["guild_id"] == GUILD
    assert manifest["schema_version"] == 3
    assert manifest["tables"] == {t: len(rows) for t, rows in expected.items()}
    with zipfile.ZipFile(result.path) as archive:
        assert "CREATE TABLE users" in archive.read("schema.sql").decode()


@pytest.mark.asyncio
async def test_json_export_encodes_blobs_as_base64(mgr: GuildDatabaseManager, tmp_path: Path) -> None:
    async with mgr.connect(GUILD) as db:
        await db.executescript("CREATE TABLE extra (data BLOB)")
        await db.execute("INSERT INTO extra VALUES (?)", (b"\x00\xffbin",))
        result = await export_guild(db, tmp_path / "g.zip", fmt="json")
    with zipfile.ZipFile(result.path) as archive:
        rows = json.loads(archive.read("tables/extra.json"))["rows"]
    assert base64.b64decode(rows[0]["data"]["base64"]) == b"\x00\xffbin"


@pytest.mark.asyncio
async def test_export_refuses_to_overwrite_and_leaves_no_partial_file(
        mgr: GuildDatabaseManager, tmp_path: Path) -> None:
    target = tmp_path / "g.sqlite3"
    target.write_text("keep me")
    async with mgr.connect(GUILD) as db:
        with pytest.raises(AlreadyExistsError):
            await export_guild(db, target)
        with pytest.raises(InvalidInputError):
            await export_guild(db, tmp_path / "other", fmt="csv")  # type: ignore[arg-type]
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.sqlite3", "guild_dbs"]


async def _keep_counters_equal(mgr: GuildDatabaseManager, stop: asyncio.Event) -> int:
    """Each transaction adds 1 to two members' xp and one achievement row: xp1 == xp2 == rows always."""
    done = 0
    while not stop.is_set():
        async with mgr.connect(GUILD) as db, db.transaction():
            await db.execute("UPDATE user_xp SET xp = xp + 1 WHERE discord_id IN (1, 2)")
            await db.execute("INSERT INTO achievements (discord_id, achievement_key) VALUES (1, ?)", (f"a{done}",))
        done += 1
    return done


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", ["sqlite", "json"])
async def test_export_during_concurrent_writes_is_a_consistent_snapshot(
        mgr: GuildDatabaseManager, tmp_path: Path, fmt: str) -> None:
    async with mgr.connect(GUILD) as db:
        await db.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, 0)", [(1,), (2,)])
        await db.executemany("INSERT INTO users (discord_id, username) VALUES (?, ?)",
                             [(i, "x" * 200) for i in range(10, 3000)])  # enough pages for a slow copy
    stop = asyncio.Event()
    writer = asyncio.create_task(_keep_counters_equal(mgr, stop))
    snapshots = []
    for i in range(6):
        await asyncio.sleep(0.01)
        async with mgr.connect(GUILD) as db:
            result = await export_guild(db, tmp_path / f"s{i}.{fmt}", fmt=fmt)  # type: ignore[arg-type]
        rows = dump_file(result.path) if fmt == "sqlite" else _rows_from_zip(result.path)[1]
        snapshots.append(rows)
    stop.set()
    written = await writer
    xps = [{r[0]: r[1] for r in s["user_xp"]} for s in snapshots]
    assert all(x[1] == x[2] == len(s["achievements"]) for x, s in zip(xps, snapshots, strict=True))
    assert len({x[1] for x in xps}) > 1  # the writes really ran during the exports
    assert written >= max(x[1] for x in xps)


@pytest.mark.asyncio
async def test_a_packed_export_is_kept_in_memory_only_when_it_fits(mgr: GuildDatabaseManager) -> None:
    from app.rights.export import export_packed

    async with mgr.connect(GUILD) as db:
        await populate(db)
        fits = await export_packed(db, max_bytes=10 * 2**20)
        too_big = await export_packed(db, max_bytes=100)
    assert fits.data is not None and len(fits.data) == fits.compressed_bytes
    assert fits.filename == f"guild-{GUILD}.sqlite3.gz"
    assert too_big.data is None and too_big.compressed_bytes > 100
