"""A bot starting in many servers reads every server's invites without tripping Discord's global rate limit."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.sandbox.harness import eventually, running_bot
from tests.features.test_invites_e2e import service

FIRST_GUILD = 300_000_000_000_000_000
SERVERS = 150  # three times the double's global limit (50 a second, as on Discord)


@pytest.mark.asyncio
async def test_a_bot_starting_in_many_servers_takes_every_snapshot_without_a_429(tmp_path: Path) -> None:
    guilds = [FIRST_GUILD + k for k in range(SERVERS)]
    async with running_bot(tmp_path / "guild_dbs", guilds=guilds) as h:
        found = await service(h)

        async def every_snapshot() -> bool:
            return all(found.tracker.snapshot(g) is not None for g in guilds)

        await eventually(every_snapshot, timeout=40.0, every=0.1)
        # Discord answers 429 past 50 calls a second and bans for an hour past 10,000 refusals in 10 minutes:
        # all servers at once (one start of a bot in 5,000 servers) would earn hundreds of thousands
        assert h.double.rate_limits.refused == 0
        assert found.tracker.fetches == SERVERS
