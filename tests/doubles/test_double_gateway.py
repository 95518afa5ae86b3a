"""The double's gateway as Discord runs it: GUILD_CREATE without presences, member chunking, RESUME, op 7,
heartbeat timeouts."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import hikari
import pytest

from app.doubles import DiscordDouble
from app.doubles.discord_gateway import HEARTBEAT_INTERVAL_MS
from app.sandbox.harness import eventually, running_bot
from tests.e2e import ADMIN

GUILD = 444_444_444_444_444_444


def _collect(into: list[hikari.MemberChunkEvent]) -> Callable[[hikari.MemberChunkEvent], Coroutine[Any, Any, None]]:
    async def collect(event: hikari.MemberChunkEvent) -> None:
        into.append(event)
    return collect


@pytest.mark.asyncio
async def test_guild_create_carries_only_the_bots_member_and_chunking_brings_the_rest(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs") as h:
        for user_id in range(1, 2502):
            h.double.ensure_member(GUILD, 10_000 + user_id)
        await h.add_bot_to_guild(GUILD)
        cache = h.bot.bot.cache
        assert list(cache.get_members_view_for_guild(GUILD)) == [h.double.app_id]
        guild = cache.get_guild(GUILD)
        assert guild is not None and guild.member_count == 2502

        chunks: list[hikari.MemberChunkEvent] = []
        h.bot.bot.subscribe(hikari.MemberChunkEvent, _collect(chunks))
        await h.bot.bot.request_guild_members(GUILD, nonce="all")

        async def complete() -> bool:
            return len(cache.get_members_view_for_guild(GUILD)) == 2502 and len(chunks) == 3

        await eventually(complete)
        assert sorted(c.chunk_index for c in chunks) == [0, 1, 2]
        assert {c.chunk_count for c in chunks} == {3} and {c.nonce for c in chunks} == {"all"}


@pytest.mark.asyncio
async def test_chunking_by_user_ids_reports_the_ones_not_found(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD]) as h:
        h.double.ensure_member(GUILD, 77)
        chunks: list[hikari.MemberChunkEvent] = []
        h.bot.bot.subscribe(hikari.MemberChunkEvent, _collect(chunks))
        await h.bot.bot.request_guild_members(GUILD, users=[77, 78])

        async def arrived() -> bool:
            return bool(chunks)

        await eventually(arrived)
        assert list(chunks[0].members) == [77] and list(chunks[0].not_found) == [78]


@pytest.mark.asyncio
async def test_a_dropped_connection_resumes_and_gets_the_events_it_missed(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD]) as h:
        gateway = h.double.gateway
        await gateway.drop(hold=True)  # the network fails; reconnection waits
        await h.double.member_join(GUILD, 4242)  # sent while the bot is away
        joined = asyncio.ensure_future(h.bot.bot.wait_for(
            hikari.MemberCreateEvent, timeout=10, predicate=lambda e: e.user_id == 4242))
        gateway.release()
        await joined

        assert gateway.identifies == 1 and gateway.resumes == 1


@pytest.mark.asyncio
async def test_op_7_reconnect_makes_the_bot_resume_and_keep_answering(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD]) as h:
        gateway = h.double.gateway
        await gateway.reconnect()

        async def resumed() -> bool:
            return gateway.resumes == 1 and len(gateway.sessions) == 1

        await eventually(resumed, timeout=10)
        reply = await h.command(GUILD, ADMIN, "server info", admin=True)
        assert reply.embeds and gateway.identifies == 1


@pytest.mark.asyncio
async def test_a_connection_that_stops_heartbeating_is_closed() -> None:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http:
        assert double.gateway.heartbeat_interval_ms == HEARTBEAT_INTERVAL_MS  # Discord's 41.25 s by default
        double.gateway.heartbeat_interval_ms = 100
        async with http.ws_connect(f"{double.gateway_url}?v=10&encoding=json") as ws:
            assert (await ws.receive_json())["d"]["heartbeat_interval"] == 100
            await ws.send_json({"op": 2, "d": {"token": double.token, "intents": 1, "properties": {}}})
            assert (await ws.receive_json())["t"] == "READY"
            closed = await ws.receive(timeout=5)  # no heartbeat sent: closed after 1.5 intervals
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4009


@pytest.mark.asyncio
async def test_a_resume_with_an_unknown_session_is_invalid_session() -> None:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http, \
            http.ws_connect(f"{double.gateway_url}?v=10&encoding=json") as ws:
        await ws.receive_json()
        await ws.send_json({"op": 6, "d": {"token": double.token, "session_id": "nope", "seq": 3}})
        assert await ws.receive_json() == {"op": 9, "d": False}
