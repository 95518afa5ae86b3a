"""Ids shared by the end-to-end tests (the real bot against the Discord double)."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.doubles.discord_state import InteractionRecord
    from app.sandbox.harness import BotHarness

GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222
ADMIN = 900_000_000_000_000_001
MEMBER = 900_000_000_000_000_002


async def give_a_file(harness: BotHarness, guild_id: int) -> None:
    """A write through the bot (an admin's /settings): a guild only read has no file."""
    reply = await harness.command(guild_id, ADMIN, "settings", {"xp_amount": "20"}, admin=True)
    assert reply.ephemeral
    assert (harness.settings.guild_dbs_dir / f"{guild_id}.sqlite3").is_file()


async def acknowledged(record: InteractionRecord, timeout: float = 10.0) -> None:
    """Until the bot's first answer to `record` (a message, a modal or a deferral) reached Discord."""
    async with asyncio.timeout(timeout):
        while record.response_type is None:
            record.changed.clear()
            await record.changed.wait()

