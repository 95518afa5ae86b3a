"""/server info within Discord's limits, and a member count that does not rely on a full member cache."""
from __future__ import annotations

import pytest

from app.bot.queries import GuildReport
from app.db import GuildDb
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A


@pytest.mark.asyncio
async def test_a_long_rows_table_is_truncated_with_and_n_more(
        harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = {f"feature_table_with_a_long_name_{i:03}": 1_000_000 + i for i in range(200)}

    async def big(db: GuildDb) -> GuildReport:
        return GuildReport(db.guild_id, 1, 2, tables)

    monkeypatch.setattr("app.extensions.server.fetch_guild_report", big)
    reply = await harness.command(GUILD_A, ADMIN, "server info", admin=True)

    rows = next(f["value"] for f in reply.embeds[0]["fields"] if f["name"].startswith("Rows"))
    assert len(rows) <= 1024
    shown = rows.count("\n")  # the lines before the last one are tables
    assert rows.splitlines()[-1] == f"… and {200 - shown} more"
    assert "feature_table_with_a_long_name_000: 1000000" in rows


@pytest.mark.asyncio
async def test_member_count_is_discords_not_the_cache(tmp_path: object) -> None:
    from pathlib import Path

    async with running_bot(Path(str(tmp_path)) / "guild_dbs") as h:
        for user_id in range(1, 8):
            h.double.ensure_member(GUILD_A, 5_000 + user_id)
        await h.add_bot_to_guild(GUILD_A)
        assert len(h.bot.bot.cache.get_members_view_for_guild(GUILD_A)) == 1  # only the bot itself
        reply = await h.command(GUILD_A, ADMIN, "server info", admin=True)

    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    # 7 members, the bot, and the admin who ran the command (a member too)
    assert fields["Members (Discord's count)"] == "9"
