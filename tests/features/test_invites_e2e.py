"""The invite tracker end to end: the real bot, the strict Discord double, each server's own file."""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import pytest

from app.doubles import discord_permissions as perm
from app.extensions._invite_service import NO_MANAGE_SERVER, InviteService
from app.features.invite_snapshot import NO_SNAPSHOT, NONE_ROSE, SEVERAL_ROSE, VANISHED
from app.features.invites import DISCORD_EPOCH_MS
from app.sandbox.harness import BotHarness, eventually
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER

INVITER = MEMBER
JOINER = 900_000_000_000_000_010  # an account from 2021: never fake


def young_account(offset: int = 0) -> int:
    """An id Discord would give an account created just now."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + offset


async def service(h: BotHarness) -> InviteService:
    container = h.bot.client.di.default_container
    assert container is not None
    return await container.get(InviteService)


async def rows(h: BotHarness, guild_id: int, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    async with h.bot.manager.connect(guild_id) as db:
        return [tuple(r) for r in await db.execute_fetchall(sql, params)]


async def ready(h: BotHarness, guild_id: int) -> InviteService:
    """Wait until the tracker holds the server's snapshot (taken when it became available)."""
    found = await service(h)

    async def has_snapshot() -> bool:
        return found.tracker.snapshot(guild_id) is not None

    await eventually(has_snapshot)
    return found


async def uses_of(h: BotHarness, guild_id: int, count: int) -> list[tuple[Any, ...]]:
    """The `invite_uses` rows (code, inviter, joiner, fake) once there are `count`."""
    async def recorded() -> bool:
        return len(await rows(h, guild_id, "SELECT id FROM invite_uses")) >= count

    await eventually(recorded, timeout=20.0)
    return await rows(h, guild_id, "SELECT invite_code, inviter_id, joiner_id, is_fake FROM invite_uses ORDER BY id")


async def stats(h: BotHarness, guild_id: int, inviter_id: int) -> tuple[Any, ...] | None:
    found = await rows(h, guild_id, "SELECT total_invites, valid_invites, left_invites, fake_invites, bonus_invites "
                                    "FROM recruitment_stats WHERE inviter_id = ?", (inviter_id,))
    return found[0] if found else None


async def set_log_channel(h: BotHarness, guild_id: int) -> int:
    channel_id = h.double.guilds[guild_id].channel_id
    reply = await h.command(guild_id, ADMIN, "invites-admin settings", {"log-channel": str(channel_id)}, admin=True)
    assert reply.embeds[0]["title"] == "Invite tracker settings saved"
    return channel_id


def posts(h: BotHarness, guild_id: int) -> list[str]:
    channel_id = h.double.guilds[guild_id].channel_id
    return [r.content for r in h.double.channel_posts if r.channel_id == channel_id]


@pytest.mark.asyncio
async def test_a_join_by_invite_is_credited_and_a_leave_records_the_days_stayed(harness: BotHarness) -> None:
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    await harness.member_join(GUILD_A, JOINER, invite="abc")
    assert await uses_of(harness, GUILD_A, 1) == [("abc", INVITER, JOINER, 0)]
    assert await stats(harness, GUILD_A, INVITER) == (1, 1, 0, 0, 0)
    await eventually(lambda: _true(posts(harness, GUILD_A)))
    assert posts(harness, GUILD_A)[-1] == f"<@{JOINER}> joined, invited by <@{INVITER}> (now 1 invites)."

    await harness.advance(timedelta(days=3))
    await harness.member_leave(GUILD_A, JOINER)

    async def left() -> bool:
        return bool(await rows(harness, GUILD_A, "SELECT id FROM user_leaves"))

    await eventually(left)
    (user_id, inviter_id, days), = await rows(harness, GUILD_A, "SELECT user_id, inviter_id, days_in_server "
                                                                 "FROM user_leaves")
    assert (user_id, inviter_id) == (JOINER, INVITER) and 2.99 <= days <= 3.01
    assert await stats(harness, GUILD_A, INVITER) == (1, 0, 1, 0, 0)
    reply = await harness.command(GUILD_A, INVITER, "invites stats")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields == {"Joined": "1", "Stayed": "0", "Left": "1", "Fake": "0", "Bonus": "0"}


async def _true(value: object) -> bool:
    return bool(value)


@pytest.mark.asyncio
async def test_a_young_account_and_a_self_invite_count_as_fake(harness: BotHarness) -> None:
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    newcomer = young_account()
    await harness.member_join(GUILD_A, newcomer, invite="abc")
    assert (await uses_of(harness, GUILD_A, 1))[0] == ("abc", INVITER, newcomer, 1)
    assert await stats(harness, GUILD_A, INVITER) == (1, 0, 0, 1, 0)

    await harness.member_leave(GUILD_A, INVITER)  # the inviter leaves and comes back by their own invite
    await harness.member_join(GUILD_A, INVITER, invite="abc")
    assert (await uses_of(harness, GUILD_A, 2))[1] == ("abc", INVITER, INVITER, 1)
    assert await stats(harness, GUILD_A, INVITER) == (2, 0, 0, 2, 0)

    await harness.member_leave(GUILD_A, newcomer)  # a fake join that leaves is not counted again as left
    await eventually(lambda: _rows_exist(harness, GUILD_A, "SELECT id FROM user_leaves WHERE user_id = ?",
                                         (newcomer,)))
    assert await stats(harness, GUILD_A, INVITER) == (2, 0, 0, 2, 0)


async def _rows_exist(h: BotHarness, guild_id: int, sql: str, params: tuple[Any, ...] = ()) -> bool:
    return bool(await rows(h, guild_id, sql, params))


async def _assert_unknown(h: BotHarness, guild_id: int, joiner: int, count: int, reason: str) -> None:
    found = await uses_of(h, guild_id, count)
    assert found[count - 1] == (None, None, joiner, 0)
    await eventually(lambda: _true(any(str(joiner) in p for p in posts(h, guild_id))))
    assert [p for p in posts(h, guild_id) if str(joiner) in p] == [
        f"<@{joiner}> joined; the invite they used is unknown: {reason}."]


@pytest.mark.asyncio
async def test_two_counts_rising_at_once_is_unknown(harness: BotHarness) -> None:
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "aaa")
    await harness.create_invite(GUILD_A, ADMIN, "bbb")
    await ready(harness, GUILD_A)
    harness.double.guilds[GUILD_A].invites["bbb"].uses += 1  # a join whose event has not arrived yet
    await harness.member_join(GUILD_A, JOINER, invite="aaa")
    await _assert_unknown(harness, GUILD_A, JOINER, 1, SEVERAL_ROSE)
    assert await rows(harness, GUILD_A, "SELECT * FROM recruitment_stats") == []

    await harness.member_join(GUILD_A, JOINER + 1, invite="aaa")  # the next join is attributed again
    assert (await uses_of(harness, GUILD_A, 2))[1] == ("aaa", INVITER, JOINER + 1, 0)


@pytest.mark.asyncio
async def test_a_vanity_url_join_is_unknown_never_the_last_invite(harness: BotHarness) -> None:
    harness.double.set_vanity_url(GUILD_A, "club")
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    await harness.member_join(GUILD_A, JOINER, vanity=True)
    await _assert_unknown(harness, GUILD_A, JOINER, 1, NONE_ROSE)
    assert harness.double.guilds[GUILD_A].vanity_uses == 1
    assert await rows(harness, GUILD_A, "SELECT * FROM recruitment_stats") == []


@pytest.mark.parametrize("delete_first", [False, True], ids=["delete-after-join", "delete-before-join"])
@pytest.mark.asyncio
async def test_a_single_use_invite_deleted_on_use_is_unknown_in_either_order(harness: BotHarness,
                                                                             delete_first: bool) -> None:
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "once", max_uses=1)
    await harness.create_invite(GUILD_A, ADMIN, "other")
    await ready(harness, GUILD_A)
    await harness.member_join(GUILD_A, JOINER, invite="once", delete_first=delete_first)
    assert "once" not in harness.double.guilds[GUILD_A].invites
    await _assert_unknown(harness, GUILD_A, JOINER, 1, VANISHED)
    assert await rows(harness, GUILD_A, "SELECT * FROM recruitment_stats") == []


@pytest.mark.asyncio
async def test_a_join_while_the_snapshot_is_missing_after_a_restart_is_unknown(harness: BotHarness) -> None:
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    gate = harness.double.invite_list_gate = asyncio.Event()  # Discord is slow to list the invites
    await harness.restart()
    await harness.member_join(GUILD_A, JOINER, invite="abc")
    gate.set()
    await _assert_unknown(harness, GUILD_A, JOINER, 1, NO_SNAPSHOT)
    await ready(harness, GUILD_A)
    await harness.member_join(GUILD_A, JOINER + 1, invite="abc")
    assert (await uses_of(harness, GUILD_A, 2))[1] == ("abc", INVITER, JOINER + 1, 0)


@pytest.mark.asyncio
async def test_without_manage_server_joins_are_unknown_and_admins_are_told_once(harness: BotHarness) -> None:
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    await harness.set_bot_permissions(GUILD_A, perm.BOT_INVITE & ~perm.MANAGE_GUILD)
    hits_before = len(harness.double.rate_limits.hits)
    for offset in range(3):
        await harness.member_join(GUILD_A, JOINER + offset, invite="abc")
        await uses_of(harness, GUILD_A, offset + 1)
    assert [u[1] for u in await uses_of(harness, GUILD_A, 3)] == [None, None, None]
    assert posts(harness, GUILD_A).count(NO_MANAGE_SERVER) == 1
    fetches = [k for k, _ in harness.double.rate_limits.hits[hits_before:] if k.startswith("GET /api/v10/guilds/{")
               and "/invites" in k and str(GUILD_A) in k]  # guild B's start-up read may come later (paced)
    assert len(fetches) == 1  # no retry on every join

    reply = await harness.command(GUILD_A, ADMIN, "invites-admin settings", admin=True)
    assert reply.embeds[0]["description"] == NO_MANAGE_SERVER
    assert {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}["Joins with an unknown invite"] == "3"
    reply = await harness.command(GUILD_A, INVITER, "invites stats")  # everything else keeps working
    assert reply.embeds[0]["description"] == f"<@{INVITER}> has **0** invites."


@pytest.mark.asyncio
async def test_a_refused_log_channel_is_logged_once_and_joins_still_recorded(
        harness: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    channel_id = await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    bot_role = harness.double.guilds[GUILD_A].bot_role_id
    await harness.set_overwrite(GUILD_A, bot_role, deny=perm.SEND_MESSAGES)
    with caplog.at_level(logging.WARNING, logger="app.extensions._invite_service"):
        for offset in range(2):
            await harness.member_join(GUILD_A, JOINER + offset, invite="abc")
            await uses_of(harness, GUILD_A, offset + 1)
        await (await service(harness)).tracker.settled(GUILD_A)
    warnings = [r for r in caplog.records if "invite log channel" in r.getMessage()]
    assert len(warnings) == 1 and str(channel_id) in warnings[0].getMessage()
    assert await stats(harness, GUILD_A, INVITER) == (2, 2, 0, 0, 0)


@pytest.mark.asyncio
async def test_a_raid_under_a_low_rate_limit_is_recorded_with_few_fetches(harness: BotHarness) -> None:
    await harness.create_invite(GUILD_A, INVITER, "raid")
    tracker = (await ready(harness, GUILD_A)).tracker
    harness.double.rate_limits.route_limit = 2  # two calls per route and guild per second
    fetches_before, hits_before = tracker.fetches, len(harness.double.rate_limits.hits)
    joiners = [JOINER + n for n in range(60)]
    await asyncio.gather(*(harness.double.member_join(GUILD_A, j, invite="raid") for j in joiners))
    found = await uses_of(harness, GUILD_A, len(joiners))
    assert sorted(u[2] for u in found) == joiners  # every join recorded, once
    assert all(u[1] in (INVITER, None) for u in found)
    assert tracker.fetches - fetches_before <= 12
    assert [h for h in harness.double.rate_limits.hits[hits_before:] if h[1].startswith("429")] == []
    credited = sum(1 for u in found if u[1] == INVITER)
    assert await stats(harness, GUILD_A, INVITER) == ((credited, credited, 0, 0, 0) if credited else None)


@pytest.mark.asyncio
async def test_the_same_ids_in_two_servers_stay_apart(harness: BotHarness) -> None:
    for guild_id in (GUILD_A, GUILD_B):
        await harness.create_invite(guild_id, INVITER, "abc")
        await ready(harness, guild_id)
    await harness.member_join(GUILD_A, JOINER, invite="abc")
    await uses_of(harness, GUILD_A, 1)
    await harness.member_join(GUILD_B, JOINER, invite="abc")
    await uses_of(harness, GUILD_B, 1)
    await harness.member_join(GUILD_B, JOINER + 1, invite="abc")
    await uses_of(harness, GUILD_B, 2)
    assert await stats(harness, GUILD_A, INVITER) == (1, 1, 0, 0, 0)
    assert await stats(harness, GUILD_B, INVITER) == (2, 2, 0, 0, 0)
    await harness.member_leave(GUILD_B, JOINER)
    await eventually(lambda: _rows_exist(harness, GUILD_B, "SELECT id FROM user_leaves"))
    assert await rows(harness, GUILD_A, "SELECT * FROM user_leaves") == []
    reply = await harness.command(GUILD_A, ADMIN, "invites-admin bonus", {"member": str(INVITER), "amount": "5"},
                                  admin=True)
    assert reply.content == f"<@{INVITER}> now has 6 invites (+5 bonus)."
    assert await stats(harness, GUILD_B, INVITER) == (2, 1, 1, 0, 0)


@pytest.mark.asyncio
async def test_bonus_and_settings_are_refused_to_members_without_manage_server(harness: BotHarness) -> None:
    harness.double.ensure_member(GUILD_A, MEMBER)
    reply = await harness.command(GUILD_A, MEMBER, "invites-admin bonus", {"member": str(MEMBER), "amount": "50"})
    assert reply.content == "Only members with the Manage Server permission can use /invites-admin bonus."
    reply = await harness.command(GUILD_A, MEMBER, "invites-admin settings", {"fake-threshold-days": "0"})
    assert reply.content.startswith("Only members with the Manage Server permission")
    assert await rows(harness, GUILD_A, "SELECT * FROM recruitment_stats") == []
    assert await rows(harness, GUILD_A, "SELECT * FROM invite_tracker_settings") == []


@pytest.mark.asyncio
async def test_settings_change_the_threshold_and_welcome_message_and_show_them(harness: BotHarness) -> None:
    await set_log_channel(harness, GUILD_A)
    reply = await harness.command(GUILD_A, ADMIN, "invites-admin settings",
                                  {"fake-threshold-days": "0", "welcome-message": "Hi {member}, thanks {inviter}!"},
                                  admin=True)
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["Fake threshold"] == "accounts younger than 0 day(s)"
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await ready(harness, GUILD_A)
    newcomer = young_account()
    await harness.member_join(GUILD_A, newcomer, invite="abc")
    assert (await uses_of(harness, GUILD_A, 1))[0][3] == 0  # threshold 0: nobody is too young
    await eventually(lambda: _true(any("thanks" in p for p in posts(harness, GUILD_A))))
    assert posts(harness, GUILD_A)[-1] == f"Hi <@{newcomer}>, thanks <@{INVITER}>!"
    shown = await harness.command(GUILD_A, ADMIN, "invites-admin settings", admin=True)
    assert shown.embeds[0]["title"] == "Invite tracker settings"


@pytest.mark.asyncio
async def test_the_leaderboard_ranks_inviters_by_score_over_pages(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await db.executemany("INSERT INTO recruitment_stats (inviter_id, total_invites, valid_invites) "
                             "VALUES (?, ?, ?)", [(1000 + n, n, n) for n in range(1, 13)])
    reply = await harness.command(GUILD_A, MEMBER, "invites leaderboard")
    lines = reply.embeds[0]["description"].splitlines()
    assert lines[0] == "**#1** <@1012> — 12 (12 stayed, 0 left, 0 fake, +0 bonus)" and len(lines) == 10
    assert [b["label"] for b in reply.buttons()] == ["Previous", "Next"]
    page2 = await harness.click(GUILD_A, MEMBER, "Next")
    assert page2.embeds[0]["description"].splitlines()[-1].startswith("**#12** <@1001>")
    assert await rows(harness, GUILD_B, "SELECT * FROM recruitment_stats") == []


@pytest.mark.asyncio
async def test_a_bot_started_without_manage_server_says_so_once_and_records_joins(harness: BotHarness) -> None:
    await set_log_channel(harness, GUILD_A)
    await harness.create_invite(GUILD_A, INVITER, "abc")
    await harness.set_bot_permissions(GUILD_A, perm.BOT_INVITE & ~perm.MANAGE_GUILD)
    await harness.restart()  # the snapshot taken at start-up is refused

    async def told() -> bool:
        return NO_MANAGE_SERVER in posts(harness, GUILD_A)

    await eventually(told)
    await harness.member_join(GUILD_A, JOINER, invite="abc")
    assert (await uses_of(harness, GUILD_A, 1))[0] == (None, None, JOINER, 0)
    assert posts(harness, GUILD_A).count(NO_MANAGE_SERVER) == 1
    reply = await harness.command(GUILD_B, ADMIN, "invites-admin settings", admin=True)
    assert reply.embeds[0].get("description") is None  # the other server's bot has the permission
