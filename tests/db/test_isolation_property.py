"""Isolation as a property: whatever the interleaving and evictions, a guild reads back its own writes."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import GuildDatabaseManager

GUILDS = st.integers(min_value=1, max_value=8).map(lambda i: 10**17 + i)
WRITES = st.lists(st.tuples(GUILDS, st.integers(min_value=1, max_value=50),
                            st.text(max_size=30)), min_size=1, max_size=60)


async def _play(root: Path, max_open: int, writes: list[tuple[int, int, str]]) -> dict[int, dict[int, str]]:
    async with GuildDatabaseManager(root, max_open=max_open) as manager:

        async def write(guild_id: int, member: int, name: str) -> None:
            async with manager.connect(guild_id) as db, db.transaction():
                await db.execute(
                    "INSERT INTO users (discord_id, username) VALUES (?, ?) "
                    "ON CONFLICT (discord_id) DO UPDATE SET username = excluded.username", (member, name))

        # writes to the same guild keep their order; different guilds interleave
        by_guild: dict[int, list[tuple[int, str]]] = {}
        for guild_id, member, name in writes:
            by_guild.setdefault(guild_id, []).append((member, name))

        async def replay(guild_id: int, items: list[tuple[int, str]]) -> None:
            for member, name in items:
                await write(guild_id, member, name)

        await asyncio.gather(*(replay(g, items) for g, items in by_guild.items()))
        seen = {}
        for guild_id in manager.guild_ids_on_disk():
            async with manager.connect(guild_id) as db:
                rows = await db.execute_fetchall("SELECT discord_id, username FROM users")
            seen[guild_id] = {r[0]: r[1] for r in rows}
        return seen


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes=WRITES, max_open=st.sampled_from([1, 2, 3]))
def test_every_guild_reads_back_exactly_its_own_writes(writes: list[tuple[int, int, str]], max_open: int) -> None:
    expected: dict[int, dict[int, str]] = {}
    for guild_id, member, name in writes:
        expected.setdefault(guild_id, {})[member] = name
    with tempfile.TemporaryDirectory() as tmp:
        seen = asyncio.run(_play(Path(tmp), max_open, writes))
    assert seen == expected
