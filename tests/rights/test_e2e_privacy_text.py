"""Item 8: what the member is told matches what they get; /privacy says what receipts keep, and how long."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.sandbox.harness import running_bot
from tests.db.helpers import build_guild_file
from tests.e2e import GUILD_A, GUILD_B, MEMBER


@pytest.mark.asyncio
async def test_my_data_export_with_no_file_promises_no_file(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        assert not h.bot.manager.path_for(GUILD_A).exists()
        reply = await h.command(GUILD_A, MEMBER, "my-data export")
        assert reply.attachments == []
        assert "file" not in reply.content.replace("no file", "") and "stores nothing" in reply.content


@pytest.mark.asyncio
async def test_my_data_export_with_a_file_but_no_rows_attaches_what_it_checked(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_B]) as h:
        build_guild_file(h.bot.manager.root, GUILD_B)  # the server's file exists, with nothing about the member
        reply = await h.command(GUILD_B, MEMBER, "my-data export")
        assert len(reply.attachments) == 1 and "the file shows what it checked" in reply.content


@pytest.mark.asyncio
async def test_privacy_says_receipts_keep_the_member_id_and_for_how_long(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        reply = await h.command(GUILD_A, MEMBER, "privacy")
        fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
        assert "keeps your Discord id" in fields["Receipts"] and "kept for as long as" in fields["Receipts"]
        assert "30 days after" in fields["Your data"]  # the kept legacy copies (LEGACY_KEEP_DAYS)
