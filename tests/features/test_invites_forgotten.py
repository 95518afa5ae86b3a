"""A join seen before an erasure (or a server's deletion) is not recorded after it.

The tracker records joins in rounds (it reads the invite counts first, from Discord): a member who erases their
data, or an admin who deletes the server's, while their join waits for its round must not find it written back.
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.bot.forgetting import Forgetting
from app.features.invite_tracker import Snapshot
from app.sandbox.harness import BotHarness
from tests.e2e import GUILD_A, MEMBER
from tests.features.test_invites_e2e import JOINER, ready, rows, uses_of

OTHER_JOINER = 900_000_000_000_000_011


async def _forgetting(h: BotHarness) -> Forgetting:
    container = h.bot.client.di.default_container
    assert container is not None
    return await container.get(Forgetting)


@pytest.mark.asyncio
@pytest.mark.parametrize("whole_server", [False, True])
async def test_a_join_waiting_for_its_round_is_dropped_by_an_erasure(harness: BotHarness, whole_server: bool) -> None:
    await harness.create_invite(GUILD_A, MEMBER, "abc")
    service = await ready(harness, GUILD_A)
    real_fetch = service._fetch
    gate = asyncio.Event()

    async def slow_fetch(guild_id: int) -> Snapshot:  # Discord slow to list the invites: the round waits
        await gate.wait()
        return await real_fetch(guild_id)

    service.tracker._fetch = slow_fetch
    await harness.member_join(GUILD_A, JOINER, invite="abc")
    await harness.member_join(GUILD_A, OTHER_JOINER, invite="abc")
    await asyncio.sleep(0.3)  # both seen, their round waiting for the invite list
    forgetting = await _forgetting(harness)
    forgetting.forget(GUILD_A, None if whole_server else JOINER)
    gate.set()
    await service.tracker.settled(GUILD_A, within_s=10)

    joiners: list[Any] = [r[0] for r in await rows(harness, GUILD_A, "SELECT joiner_id FROM invite_uses")]
    assert JOINER not in joiners
    if whole_server:
        assert joiners == []
    else:
        assert (await uses_of(harness, GUILD_A, 1))[0][2] == OTHER_JOINER
