"""The admin check and the confirmation guards, each made to fire (issue 11's mutants).

A member with exactly one of the two admin permissions gets it from a role in the
double, which computes the interaction's permissions as Discord does.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import hikari
import pytest
import pytest_asyncio

from app.bot.checks import is_admin
from app.sandbox.harness import BotHarness, running_bot
from tests.e2e import ADMIN, GUILD_A, MEMBER
from tests.rights.conftest import populate

OTHER_ADMIN = 900_000_000_000_000_003
P = hikari.Permissions


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        async with h.bot.manager.connect(GUILD_A) as db:
            await populate(db, members=(ADMIN, MEMBER, OTHER_ADMIN), n=1)
        yield h


async def _users(h: BotHarness) -> list[int]:
    async with h.bot.manager.connect(GUILD_A) as db:
        return [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users ORDER BY 1")]


@pytest.mark.parametrize(("permissions", "admin"), [
    (P.MANAGE_GUILD, True), (P.ADMINISTRATOR, True), (P.MANAGE_GUILD | P.ADMINISTRATOR, True),
    (P.SEND_MESSAGES | P.MANAGE_CHANNELS | P.MANAGE_ROLES, False), (P.NONE, False)])
def test_is_admin_counts_manage_server_or_administrator(permissions: P, admin: bool) -> None:
    assert is_admin(SimpleNamespace(permissions=permissions)) is admin  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize("bit", [P.MANAGE_GUILD, P.ADMINISTRATOR], ids=["manage-server-alone", "administrator-alone"])
async def test_a_member_with_one_admin_permission_may_run_admin_commands(bot: BotHarness, bit: P) -> None:
    refused = await bot.command(GUILD_A, ADMIN, "server-data delete")
    await bot.give_role(GUILD_A, ADMIN, bit)
    prompt = await bot.command(GUILD_A, ADMIN, "server-data delete")
    assert not refused.buttons()
    assert [b["label"] for b in prompt.buttons()] == ["Delete everything", "Cancel"]


@pytest.mark.asyncio
async def test_the_deletion_form_checks_the_permission_again(bot: BotHarness) -> None:
    await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    await bot.click(GUILD_A, ADMIN, "Delete everything", admin=True)
    name = bot.double.ensure_guild(GUILD_A).name
    refused = await bot.submit_modal(GUILD_A, ADMIN, {"Server name": name}, admin=False)  # demoted meanwhile
    assert refused.content == "Only members with the Manage Server permission can delete its data."
    assert await _users(bot) == [ADMIN, MEMBER, OTHER_ADMIN]


@pytest.mark.asyncio
async def test_another_member_cannot_press_my_erase_button(bot: BotHarness) -> None:
    prompt = await bot.command(GUILD_A, MEMBER, "my-data delete")
    erase = next(b["custom_id"] for b in prompt.buttons() if b["label"] == "Erase my data")
    record = await bot.double.click(prompt, erase, guild_id=GUILD_A, user_id=ADMIN)
    refused = await bot.answer(record)
    assert refused.content == "This confirmation belongs to someone else." and refused.ephemeral
    assert await _users(bot) == [ADMIN, MEMBER, OTHER_ADMIN]


@pytest.mark.asyncio
async def test_another_admin_cannot_press_my_delete_button(bot: BotHarness) -> None:
    prompt = await bot.command(GUILD_A, ADMIN, "server-data delete", admin=True)
    delete = next(b["custom_id"] for b in prompt.buttons() if b["label"] == "Delete everything")
    record = await bot.double.click(prompt, delete, guild_id=GUILD_A, user_id=OTHER_ADMIN, admin=True)
    refused = await bot.answer(record)
    assert refused.kind == "message" and refused.content == "This confirmation belongs to someone else."
    assert await _users(bot) == [ADMIN, MEMBER, OTHER_ADMIN]
