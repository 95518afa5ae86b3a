"""Permissions as Discord computes them: roles, owner, ADMINISTRATOR, overwrites, app_permissions."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import hikari
import pytest
import pytest_asyncio

from app.bot.app import extension_modules
from app.doubles import DoubleError
from app.doubles import discord_permissions as perm
from app.sandbox.harness import BotHarness, eventually, running_bot

GUILD = 444_444_444_444_444_444
USER, OTHER = 900_000_000_000_000_009, 900_000_000_000_000_010
P = hikari.Permissions
REFUSED = "Only members with the Manage Server permission can use /server info."


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    extensions = [*extension_modules(), "tests.doubles.widgets_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD], extensions=extensions) as h:
        yield h


async def _perms(h: BotHarness, user_id: int) -> tuple[int, int]:
    reply = await h.command(GUILD, user_id, "widgets perms")
    found = re.fullmatch(r"member=(\d+) app=(\d+)", reply.content)
    assert found is not None, reply.content
    return int(found.group(1)), int(found.group(2))


def test_owner_and_administrator_get_every_permission() -> None:
    assert perm.base_permissions(everyone=0, role_permissions=[], is_owner=True) == perm.ALL
    assert perm.base_permissions(everyone=0, role_permissions=[perm.ADMINISTRATOR], is_owner=False) == perm.ALL
    assert perm.base_permissions(everyone=perm.VIEW_CHANNEL, role_permissions=[perm.MANAGE_GUILD],
                                 is_owner=False) == perm.VIEW_CHANNEL | perm.MANAGE_GUILD


def test_overwrites_apply_everyone_then_roles_then_member() -> None:
    guild_id, role_id, user_id = 1, 2, 3
    base = perm.VIEW_CHANNEL | perm.SEND_MESSAGES
    overwrites = [perm.Overwrite(guild_id, perm.ROLE_OVERWRITE, deny=perm.SEND_MESSAGES),
                  perm.Overwrite(role_id, perm.ROLE_OVERWRITE, allow=perm.SEND_MESSAGES, deny=perm.VIEW_CHANNEL),
                  perm.Overwrite(user_id, perm.MEMBER_OVERWRITE, allow=perm.VIEW_CHANNEL)]

    def channel(role_ids: set[int], who: int, ows: list[perm.Overwrite]) -> int:
        return perm.channel_permissions(base, guild_id=guild_id, user_id=who, role_ids=role_ids, overwrites=ows)

    assert channel(set(), 9, overwrites[:1]) == perm.VIEW_CHANNEL
    assert channel({role_id}, 9, overwrites[:2]) == perm.SEND_MESSAGES
    assert channel({role_id}, user_id, overwrites) == perm.VIEW_CHANNEL | perm.SEND_MESSAGES


@pytest.mark.asyncio
async def test_member_with_manage_guild_but_not_administrator_is_an_admin(harness: BotHarness) -> None:
    await harness.give_role(GUILD, USER, P.MANAGE_GUILD)
    member, _ = await _perms(harness, USER)
    assert member & P.MANAGE_GUILD and not member & P.ADMINISTRATOR

    reply = await harness.command(GUILD, USER, "server info")
    assert reply.embeds and reply.embeds[0]["title"] == "This server's database"


@pytest.mark.asyncio
async def test_member_with_administrator_but_no_manage_guild_role_gets_every_permission(
        harness: BotHarness) -> None:
    role_id = await harness.give_role(GUILD, USER, P.ADMINISTRATOR)
    assert harness.double.guilds[GUILD].roles[role_id].permissions & P.MANAGE_GUILD == 0
    member, _ = await _perms(harness, USER)
    assert member == perm.ALL

    reply = await harness.command(GUILD, USER, "server info")
    assert reply.embeds and reply.content == ""


@pytest.mark.asyncio
async def test_plain_member_has_everyones_permissions_and_is_refused(harness: BotHarness) -> None:
    member, _ = await _perms(harness, USER)
    assert member == perm.EVERYONE
    reply = await harness.command(GUILD, USER, "server info")
    assert reply.content == REFUSED


@pytest.mark.asyncio
async def test_owner_has_every_permission(harness: BotHarness) -> None:
    member, _ = await _perms(harness, harness.owner_of(GUILD))
    assert member == perm.ALL


@pytest.mark.asyncio
async def test_everyone_and_member_overwrites_change_the_payloads_permissions(harness: BotHarness) -> None:
    await harness.set_overwrite(GUILD, GUILD, deny=P.SEND_MESSAGES)
    member, _ = await _perms(harness, USER)
    assert not member & P.SEND_MESSAGES
    await harness.set_overwrite(GUILD, USER, allow=P.SEND_MESSAGES, member=True)
    member, _ = await _perms(harness, USER)
    assert member & P.SEND_MESSAGES


@pytest.mark.asyncio
async def test_app_permissions_come_from_the_bots_role_and_a_test_can_change_them(harness: BotHarness) -> None:
    _, app = await _perms(harness, USER)
    assert app == perm.EVERYONE | perm.BOT_INVITE
    await harness.set_bot_permissions(GUILD, P.VIEW_CHANNEL)
    _, app = await _perms(harness, USER)
    assert app == perm.EVERYONE and not app & P.MANAGE_GUILD


@pytest.mark.asyncio
async def test_a_second_member_presses_another_members_public_button(harness: BotHarness) -> None:
    await harness.command(GUILD, USER, "widgets public")
    edited = await harness.click(GUILD, OTHER, "Cancel", on_message_of=USER)
    assert edited.content == "Cancelled; nothing changed."


@pytest.mark.asyncio
async def test_nobody_else_can_press_a_button_on_an_ephemeral_message(harness: BotHarness) -> None:
    await harness.command(GUILD, USER, "widgets confirm")
    with pytest.raises(DoubleError) as caught:
        await harness.press(GUILD, OTHER, "Cancel", on_message_of=USER)
    assert "ephemeral" in str(caught.value)


@pytest.mark.asyncio
async def test_invite_events_need_manage_channels_in_that_channel(harness: BotHarness) -> None:
    seen: list[str] = []

    async def on_invite(event: hikari.InviteCreateEvent) -> None:
        seen.append(event.code)

    harness.bot.bot.subscribe(hikari.InviteCreateEvent, on_invite)
    await harness.set_overwrite(GUILD, harness.double.app_id, deny=P.MANAGE_CHANNELS, member=True)
    assert await harness.double.create_invite(GUILD, USER, code="hidden") == "hidden"
    await harness.set_overwrite(GUILD, harness.double.app_id, member=True)
    await harness.double.create_invite(GUILD, USER, code="seen")

    async def arrived() -> bool:
        return "seen" in seen

    await eventually(arrived)
    assert seen == ["seen"]  # events arrive in order: "hidden" was never sent
