"""Shard blocks: settings, the manager's refusal, retention and migrate on own guilds, the plan, the double."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.config import load_settings
from app.db import GuildDatabaseManager
from app.db.registry import record_leave
from app.db.shards import ShardBlock, describe, parse_shard_ids, plan_moves, shard_of
from app.doubles.discord import DiscordDouble
from app.errors import ConfigurationError, WrongShardError
from app.rights.retention import purge_expired
from tests.db.helpers import build_guild_file

COUNT = 4
GUILDS = [(((1 << 36) + k) << 22) | 3 for k in range(8)]  # shard k % 4
BLOCK = ShardBlock(frozenset({0, 1}), COUNT)


def test_shard_ids_take_ranges_and_lists() -> None:
    assert parse_shard_ids("0-3") == (0, 1, 2, 3)
    assert parse_shard_ids("0,1,2,3") == (0, 1, 2, 3)
    assert parse_shard_ids("4, 0-1") == (0, 1, 4)
    assert describe((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"
    for bad in ("", "a", "3-1", "-1", "1.5"):
        with pytest.raises(ConfigurationError):
            parse_shard_ids(bad)


def test_settings_read_the_block_and_refuse_what_cannot_work() -> None:
    settings = load_settings({"SHARD_IDS": "2-3", "SHARD_COUNT": "4"})
    assert settings.shard_block == ShardBlock(frozenset({2, 3}), 4)
    assert load_settings({"SHARD_COUNT": "auto"}).shard_count is None
    assert load_settings({}).shard_block is None
    assert load_settings({"BACKUP_RETENTION_DAYS": "7"}).backup_retention_days == 7
    with pytest.raises(ConfigurationError, match="below SHARD_COUNT"):
        load_settings({"SHARD_IDS": "0-4", "SHARD_COUNT": "4"})
    with pytest.raises(ConfigurationError, match="SHARD_COUNT set to a number"):
        load_settings({"SHARD_IDS": "0", "SHARD_COUNT": "auto"})


@pytest.mark.asyncio
async def test_the_manager_refuses_a_guild_of_another_block_without_creating_its_file(tmp_path: Path) -> None:
    async with GuildDatabaseManager(tmp_path, shards=BLOCK) as manager:
        mine, other = GUILDS[1], GUILDS[2]
        async with manager.connect(mine) as db:
            await db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (1, 1)")  # the first write builds it
        with pytest.raises(WrongShardError, match=f"guild {other} is on shard 2 of 4"):
            async with manager.connect(other):
                pass
    assert manager.path_for(mine).exists()
    assert not manager.path_for(other).exists()


@pytest.mark.asyncio
async def test_retention_purge_touches_only_its_own_guilds(tmp_path: Path) -> None:
    for guild_id in GUILDS[:4]:  # one shared folder: create both blocks' files
        build_guild_file(tmp_path, guild_id)
    async with GuildDatabaseManager(tmp_path) as everyone, everyone.connect_bot() as bot_db:
        for guild_id in GUILDS[:4]:
            await record_leave(bot_db, guild_id, retention_days=0, now=datetime.now(UTC) - timedelta(days=1))
    async with GuildDatabaseManager(tmp_path, shards=BLOCK) as manager:
        results = await purge_expired(manager)
    assert {r.guild_id for r in results} == {g for g in GUILDS[:4] if BLOCK.owns(g)}
    assert {g for g in GUILDS[:4] if (tmp_path / f"{g}.sqlite3").exists()} == {GUILDS[2], GUILDS[3]}


def test_db_migrate_touches_only_its_own_guilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for guild_id in GUILDS:
        build_guild_file(tmp_path, guild_id)
    for name, value in {"GUILD_DBS_DIR": str(tmp_path), "SHARD_IDS": "0-1", "SHARD_COUNT": "4"}.items():
        monkeypatch.setenv(name, value)
    assert main(["db", "migrate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {g["guild_id"] for g in out["guilds"]} == {g for g in GUILDS if BLOCK.owns(g)}


def test_plan_lists_the_files_that_change_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for guild_id in GUILDS:
        (tmp_path / f"{guild_id}.sqlite3").write_bytes(b"")
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path))
    monkeypatch.setenv("SHARD_COUNT", "2")
    assert main(["shards", "plan", "--count", "4", "--blocks", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["blocks"] == ["0-1", "2-3"]
    expected = plan_moves(GUILDS, old_count=2, new_count=4, blocks=2)
    assert out["moving"] == sum(m.moves for m in expected) > 0
    for move in out["moves"]:
        guild_id = move["guild_id"]
        assert move["from_block"] == shard_of(guild_id, 2)  # two shards, two blocks of one
        assert move["to_block"] == shard_of(guild_id, 4) // 2
    assert main(["shards", "plan", "--count", "4"]) == 0
    assert "8 guild file(s)" in capsys.readouterr().out


@pytest.mark.asyncio
async def test_double_routes_ready_and_events_by_shard_and_recommends_a_count() -> None:
    import aiohttp

    async with DiscordDouble() as double:
        double.recommended_shards = 4
        for guild_id in GUILDS[:4]:
            double.place_bot(guild_id)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{double.rest_url}/gateway/bot",
                                headers={"Authorization": f"Bot {double.token}"}) as response:
                assert (await response.json())["shards"] == 4
            ready: dict[int, list[dict[str, object]]] = {}
            for shard_id in (1, 4):
                async with http.ws_connect(double.gateway_url) as ws:
                    await ws.receive_json()  # HELLO
                    await ws.send_json({"op": 2, "d": {"token": double.token, "intents": 1,
                                                       "shard": [shard_id, 4]}})
                    msg = await ws.receive()
                    if shard_id == 4:
                        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4010
                        continue
                    ready[shard_id] = json.loads(msg.data)["d"]["guilds"]
                    startup = json.loads((await ws.receive()).data)
                    assert int(startup["d"]["id"]) == GUILDS[1]
                    await double.add_bot(GUILDS[5])  # shard 1: this session gets it
                    await double.add_bot(GUILDS[6])  # shard 2: not for this session
                    event = json.loads((await ws.receive()).data)
                    assert event["t"] == "GUILD_CREATE" and int(event["d"]["id"]) == GUILDS[5]
                    assert len(double.gateway.resumable) == 1
                    assert [p["t"] for p in next(iter(double.gateway.resumable.values())).sent] == [
                        "READY", "GUILD_CREATE", "GUILD_CREATE"]
    assert [int(str(g["id"])) for g in ready[1]] == [GUILDS[1]]


@pytest.mark.asyncio
async def test_shard_count_auto_takes_the_gateways_recommendation(tmp_path: Path) -> None:
    from app.config import Settings
    from app.sandbox.harness import BotHarness
    from tests.e2e import ADMIN

    guilds = [(((1 << 36) + k) << 22) | 9 for k in range(2)]  # shards 0 and 1 of 2
    harness = BotHarness(Settings(guild_dbs_dir=tmp_path), guilds=guilds)
    harness.double.recommended_shards = 2
    harness.double.max_concurrency = 2  # both IDENTIFY in one window
    await harness.start()
    try:
        assert {s.shard for s in harness.double.gateway.sessions} == {(0, 2), (1, 2)}
        for guild_id in guilds:
            reply = await harness.command(guild_id, ADMIN, "server info", admin=True)
            assert reply.embeds
    finally:
        await harness.stop()
    assert harness.bot.manager.shards is None  # one process serves every shard


def test_plan_with_only_the_new_count_says_where_each_file_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # `shards plan --count N`, as the architecture writes it, with SHARD_COUNT at its default (auto): the
    # current count is unknown, so nothing can be said about moves, but every file's shard and block can
    for guild_id in GUILDS:
        (tmp_path / f"{guild_id}.sqlite3").write_bytes(b"")
    monkeypatch.setenv("GUILD_DBS_DIR", str(tmp_path))
    monkeypatch.delenv("SHARD_COUNT", raising=False)

    assert main(["shards", "plan", "--count", "4", "--blocks", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["from_count"] is None and out["moving"] is None and out["blocks"] == ["0-1", "2-3"]
    assert {m["guild_id"]: (m["to_shard"], m["to_block"]) for m in out["moves"]} == {
        g: (shard_of(g, 4), shard_of(g, 4) // 2) for g in GUILDS}
    assert all(m["from_shard"] is None and m["from_block"] is None for m in out["moves"])

    assert main(["shards", "plan", "--count", "4"]) == 0
    text = capsys.readouterr().out
    assert all(f"{g}.sqlite3" in text for g in GUILDS) and "8 guild file(s)" in text
