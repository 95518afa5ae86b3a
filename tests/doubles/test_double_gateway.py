"""The double's gateway as Discord runs it: GUILD_CREATE without presences, member chunking."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import hikari
import pytest

from app.sandbox.harness import eventually, running_bot

GUILD = 444_444_444_444_444_444


def _collect(into: list[hikari.MemberChunkEvent]) -> Callable[[hikari.MemberChunkEvent], Awaitable[None]]:
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
