from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.db import GuildDatabaseManager
from app.errors import RateLimitedError
from app.rights.cooldown import Cooldown
from app.rights.guild_delete import bind, check_deletion_cooldown, delete_guild
from app.rights.receipts import OPERATOR_CLI, list_receipts
from tests.db.helpers import build_guild_file


def test_a_cooldown_refuses_until_its_time_is_up() -> None:
    now = [100.0]
    cooldown = Cooldown(60, what="An export", clock=lambda: now[0])
    cooldown.check(1)
    cooldown.hit(1)
    with pytest.raises(RateLimitedError) as caught:
        cooldown.check(1)
    cooldown.check(2)  # other keys are free
    now[0] += 61
    cooldown.check(1)
    assert caught.value.user_message == "An export was done in this server a moment ago; try again in 1 minute."


@pytest.mark.asyncio
async def test_a_guild_deleted_recently_cannot_be_deleted_again_until_the_cooldown_ends(
        mgr: GuildDatabaseManager) -> None:
    access = bind(mgr, 42)
    await check_deletion_cooldown(access, seconds=600)  # never deleted: allowed
    build_guild_file(mgr.root, 42)
    await delete_guild(mgr, 42, requested_by=OPERATOR_CLI, reason="test")
    with pytest.raises(RateLimitedError):
        await check_deletion_cooldown(access, seconds=600)
    async with mgr.connect_bot() as bot_db:
        [receipt] = await list_receipts(bot_db)
    later = datetime.fromisoformat(receipt.deleted_at) + timedelta(seconds=601)
    await check_deletion_cooldown(access, seconds=600, now=later)
