"""The data-rights commands end to end: the real bot and lightbulb against the Discord double."""
from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.db.connection import GuildDb
from app.doubles import Reply
from app.rights.receipts import list_receipts
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER
from tests.rights.conftest import populate


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B]) as h:
        for guild_id in (GUILD_A, GUILD_B):
            async with h.bot.manager.connect(guild_id) as db:
                await populate(db, members=(ADMIN, MEMBER, 77), n=2)
        yield h


async def _users(h: BotHarness, guild_id: int) -> list[int]:
    async with h.bot.manager.connect(guild_id) as db:
        return [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users ORDER BY 1")]


async def _final(h: BotHarness, guild_id: int, user_id: int, command: str) -> Reply:
    """The answer to a deferred command, once the loading message has been replaced."""
    record = await h.send(guild_id, user_id, command, admin=True)
    async with asyncio.timeout(10):
        while True:
            replies = await h.settle(record)
            if replies and replies[-1].kind != "deferred":
                return replies[-1]


def _server_name(h: BotHarness, guild_id: int) -> str:
    return h.double.ensure_guild(guild_id).name


@pytest.mark.asyncio
@pytest.mark.parametrize("command", ["server-data export", "server-data delete"])
async def test_members_without_manage_server_cannot_run_admin_commands(bot: BotHarness, command: str) -> None:
    reply = await bot.command(GUILD_A, MEMBER, command, admin=False)
    assert reply.ephemeral
    assert reply.content == f"Only members with the Manage Server permission can use /{command}."
    assert reply.components == [] and reply.attachments == []
    assert await _users(bot, GUILD_A) == [77, ADMIN, MEMBER]


@pytest.mark.asyncio
async def test_admin_export_sends_this_servers_file_compressed(bot: BotHarness, tmp_path: Path) -> None:
    reply = await _final(bot, GUILD_A, ADMIN, "server-data export")
    assert reply.ephemeral
    [attachment] = reply.attachments
    assert attachment.filename == f"guild-{GUILD_A}.sqlite3.gz"
    unpacked = tmp_path / "export.sqlite3"
    unpacked.write_bytes(gzip.decompress(attachment.data))
    conn = sqlite3.connect(unpacked)
    try:
        assert conn.execute("SELECT guild_id FROM guild_meta").fetchone()[0] == GUILD_A
        assert [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY 1")] == [77, ADMIN, MEMBER]
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_server_delete_needs_the_button_and_the_servers_name(bot: BotHarness) -> None:
    prompt = await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    assert [b["label"] for b in prompt.buttons()] == ["Delete everything", "Cancel"]
    modal = await bot.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    assert modal.kind == "modal"
    wrong = await bot.submit_modal(GUILD_A, ADMIN, {"Server name": "not the name"}, admin=True)
    assert wrong.content == "What you typed is not this server's name: nothing was deleted."
    assert await _users(bot, GUILD_A) == [77, ADMIN, MEMBER]

    await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    await bot.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    done = await bot.submit_modal(GUILD_A, ADMIN, {"Server name": _server_name(bot, GUILD_A)}, admin=True)
    assert done.ephemeral and done.content.startswith("Deleted:")
    assert await _users(bot, GUILD_A) == []  # a new, empty file
    assert await _users(bot, GUILD_B) == [77, ADMIN, MEMBER]
    async with bot.bot.manager.connect_bot() as bot_db:
        [receipt] = await list_receipts(bot_db)
    assert (receipt.guild_id, receipt.requested_by) == (GUILD_A, f"discord:{ADMIN}")

    again = await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    assert "try again in 10 minutes" in again.content and again.components == []


@pytest.mark.asyncio
async def test_cancel_deletes_nothing(bot: BotHarness) -> None:
    await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    reply = await bot.click(GUILD_A, ADMIN, "Cancel", admin=True)
    assert "nothing was deleted" in reply.content
    assert await _users(bot, GUILD_A) == [77, ADMIN, MEMBER]


@pytest.mark.asyncio
async def test_my_data_export_is_an_ephemeral_json_of_my_rows_only(bot: BotHarness) -> None:
    reply = await bot.command(GUILD_A, MEMBER, "my-data export")
    assert reply.ephemeral
    [attachment] = reply.attachments
    data = json.loads(attachment.data)
    assert data["user_id"] == MEMBER and data["guild_id"] == GUILD_A
    assert [row["discord_id"] for row in data["tables"]["users"]] == [MEMBER]
    assert all(ADMIN not in row.values() for rows in data["tables"].values() for row in rows
               if "discord_id" in row)


@pytest.mark.asyncio
async def test_my_data_delete_erases_me_in_this_server_only(bot: BotHarness) -> None:
    prompt = await bot.command(GUILD_A, MEMBER, "my-data delete")
    assert [b["label"] for b in prompt.buttons()] == ["Erase my data", "Cancel"]
    done = await bot.click(GUILD_A, MEMBER, "Erase my data")
    assert done.content.startswith("Erased ")
    assert await _users(bot, GUILD_A) == [77, ADMIN]
    assert await _users(bot, GUILD_B) == [77, ADMIN, MEMBER]
    async with bot.bot.manager.connect_bot() as bot_db:
        [receipt] = await list_receipts(bot_db)
    assert (receipt.scope, receipt.guild_id, receipt.user_id) == ("member", GUILD_A, MEMBER)


@pytest.mark.asyncio
async def test_privacy_explains_storage_and_retention(bot: BotHarness) -> None:
    reply = await bot.command(GUILD_A, MEMBER, "privacy")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert "30 days" in fields["How long"]
    assert "/my-data export" in fields["Your data"]


def test_extension_holds_no_sql_and_reaches_no_manager() -> None:
    source = (Path(__file__).parents[2] / "app/extensions/data_rights.py").read_text()
    assert "GuildDatabaseManager" not in source and "execute(" not in source
    assert "from app.db" not in source and "from app.bot.di import GuildFiles" in source  # bound to ctx.guild_id


@pytest.mark.asyncio
async def test_an_export_over_the_attachment_limit_says_how_the_operator_can_export(
        bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.extensions import data_rights
    from app.rights.export import export_packed

    async def tiny_limit(db: GuildDb, *, max_bytes: int):
        return await export_packed(db, max_bytes=16)

    monkeypatch.setattr(data_rights, "export_packed", tiny_limit)
    reply = await _final(bot, GUILD_A, ADMIN, "server-data export")
    assert reply.attachments == []
    assert f"python -m app guild export {GUILD_A} --out FILE" in reply.content
    again = await bot.command(GUILD_A, ADMIN, "server-data export", admin=True)
    assert "try again in 1 minute" in again.content


@pytest.mark.asyncio
async def test_erasure_replaces_the_question_so_it_cannot_be_pressed_twice(bot: BotHarness) -> None:
    await bot.command(GUILD_B, MEMBER, "my-data delete")
    done = await bot.click(GUILD_B, MEMBER, "Erase my data")
    assert done.buttons() == []
    assert await _users(bot, GUILD_B) == [77, ADMIN]


@pytest.mark.asyncio
async def test_server_deletion_with_commands_in_flight_keeps_other_servers_whole(bot: BotHarness) -> None:
    await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    await bot.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    in_flight = [await bot.send(guild_id, MEMBER, "my-data export") for guild_id in (GUILD_A, GUILD_B) * 5]
    done = await bot.submit_modal(GUILD_A, ADMIN, {"Server name": _server_name(bot, GUILD_A)}, admin=True)
    answers = [await bot.double.wait_reply(record, timeout=10) for record in in_flight]
    assert done.content.startswith("Deleted:")
    assert all(a.content and not a.content.startswith("Something went wrong") for a in answers)
    assert await _users(bot, GUILD_B) == [77, ADMIN, MEMBER]
    assert await _users(bot, GUILD_A) == []
