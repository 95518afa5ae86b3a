"""A command sent the moment the bot's session is ready is answered, even behind thousands of GUILD_CREATEs."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.doubles.discord_gateway import GatewaySession
from app.doubles.discord_state import InteractionRecord
from app.sandbox.harness import running_bot
from tests.e2e import GUILD_A, MEMBER

SERVERS = 1_000


@pytest.mark.asyncio
async def test_a_command_right_after_ready_is_answered_not_ignored(tmp_path: Path) -> None:
    guilds = [GUILD_A, *(300_000_000_000_000_000 + k for k in range(SERVERS))]
    async with running_bot(tmp_path / "guild_dbs", guilds=guilds) as h:
        gateway = h.double.gateway
        identify = gateway._on_identify
        sent: list[asyncio.Task[InteractionRecord]] = []

        async def command_once_ready(session: GatewaySession) -> InteractionRecord:
            await session.identified.wait()  # READY and every GUILD_CREATE went out; the bot reads them now
            return await h.double.invoke(GUILD_A, MEMBER, "help")

        def ready_then_command(session: GatewaySession) -> list[tuple[str, dict[str, Any]]]:
            sent.append(asyncio.get_running_loop().create_task(command_once_ready(session)))
            return identify(session)

        gateway._on_identify = ready_then_command
        await h.restart()  # a new process: Discord delivers the member's command as soon as READY is out
        record = await sent[0]
        reply = await h.double.wait_reply(record, timeout=15)
        assert reply.ephemeral and reply.embeds
