"""/settings (admin): stored in this server's guild_settings, checked at run time, read by the XP listener."""
from __future__ import annotations

import json

import pytest

from app.db import GuildDatabaseManager
from app.doubles import DoubleError, Reply
from app.errors import InvalidInputError
from app.features import guild_settings as gs
from app.features.xp import fetch_xp
from app.sandbox.harness import BotHarness, eventually
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER


def _fields(reply: Reply) -> dict[str, str]:
    return {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}


@pytest.mark.asyncio
async def test_settings_parse_defaults_and_ignore_unreadable_values(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        assert await gs.fetch_guild_settings(db) == gs.GuildSettings()
        await db.executemany("INSERT INTO guild_settings (key, value) VALUES (?, ?)",
                             [(gs.XP_AMOUNT, "not json"), (gs.XP_COOLDOWN, json.dumps(-3)),
                              (gs.LEVELUP, json.dumps("yes")), (gs.ANNOUNCE_CHANNEL, json.dumps(True))])
        assert await gs.fetch_guild_settings(db) == gs.GuildSettings()
        saved = await gs.update_guild_settings(db, {gs.XP_AMOUNT: 40, gs.XP_COOLDOWN: 0, gs.LEVELUP: True,
                                                    gs.ANNOUNCE_CHANNEL: 77}, user_id=ADMIN)
        assert saved == gs.GuildSettings(77, True, 40, 0) and saved.cooldown(60) == 0
        cleared = await gs.update_guild_settings(db, {gs.ANNOUNCE_CHANNEL: None}, user_id=ADMIN)
        assert cleared.announce_channel_id is None
    async with manager.connect(GUILD_B) as db:
        assert await gs.fetch_guild_settings(db) == gs.GuildSettings()


@pytest.mark.parametrize("changes", [{gs.XP_AMOUNT: 0}, {gs.XP_AMOUNT: 1001}, {gs.XP_AMOUNT: True},
                                     {gs.XP_COOLDOWN: 86_401}, {gs.XP_COOLDOWN: -1}, {gs.LEVELUP: 1},
                                     {gs.ANNOUNCE_CHANNEL: 0}, {"x'; DROP TABLE guild_settings;--": 1}])
@pytest.mark.asyncio
async def test_out_of_range_values_change_nothing(manager: GuildDatabaseManager, changes: dict[str, object]) -> None:
    async with manager.connect(GUILD_A) as db:
        with pytest.raises(InvalidInputError):
            await gs.update_guild_settings(db, {gs.LEVELUP: True, **changes}, user_id=ADMIN)
        assert await db.execute_fetchall("SELECT * FROM guild_settings") == []


@pytest.mark.asyncio
async def test_a_member_without_manage_server_is_refused_at_run_time(harness: BotHarness) -> None:
    reply = await harness.command(GUILD_A, MEMBER, "settings", {"xp_amount": "500"})
    assert reply.ephemeral and reply.content == "Only members with the Manage Server permission can use /settings."
    async with harness.bot.manager.connect(GUILD_A) as db:
        assert await db.execute_fetchall("SELECT * FROM guild_settings") == []
    command = harness.double.find_command("settings", GUILD_A)
    assert int(command["default_member_permissions"]) == 1 << 5


@pytest.mark.asyncio
async def test_admin_changes_are_stored_here_and_used_by_the_next_message(harness: BotHarness) -> None:
    shown = await harness.command(GUILD_A, ADMIN, "settings", admin=True)
    assert shown.ephemeral and shown.embeds[0]["title"] == "This server's settings"
    assert _fields(shown)["XP cooldown"] == "60 s (the bot's default)" and _fields(shown)["XP per message"] == "15"

    await harness.say(GUILD_A, MEMBER, "first")

    async def xp_is(value: int) -> bool:
        async with harness.bot.manager.connect(GUILD_A) as db:
            return (await fetch_xp(db, MEMBER)).xp == value

    await eventually(lambda: xp_is(15))
    saved = await harness.command(GUILD_A, ADMIN, "settings", {"xp_amount": "40", "xp_cooldown": "0",
                                                               "levelup_announcements": "true"}, admin=True)
    assert saved.embeds[0]["title"] == "Settings saved"
    assert _fields(saved) == {"Announcement channel": "none (level-ups go where the member wrote)",
                              "Level-up announcements": "on", "XP per message": "40", "XP cooldown": "0 s"}
    await harness.say(GUILD_A, MEMBER, "second, inside the old cooldown")
    await eventually(lambda: xp_is(55))

    elsewhere = await harness.command(GUILD_B, ADMIN, "settings", admin=True)
    assert _fields(elsewhere)["XP per message"] == "15"


@pytest.mark.parametrize("options", [{"xp_amount": "0"}, {"xp_amount": "100000"}, {"xp_cooldown": "-5"}])
@pytest.mark.asyncio
async def test_values_discord_would_refuse_are_refused_by_the_bot_too(
        harness: BotHarness, options: dict[str, str]) -> None:
    try:
        reply = await harness.command(GUILD_A, ADMIN, "settings", options, admin=True)
    except DoubleError:  # a strict double checks min/max first, as Discord does
        return
    assert reply.ephemeral and reply.content.startswith("The XP ") and reply.embeds == []
    async with harness.bot.manager.connect(GUILD_A) as db:
        assert await db.execute_fetchall("SELECT * FROM guild_settings") == []


@pytest.mark.asyncio
async def test_the_announcement_channel_is_set_and_cleared(harness: BotHarness) -> None:
    channel_id = harness.double.ensure_guild(GUILD_A).channel_id
    saved = await harness.command(GUILD_A, ADMIN, "settings", {"announce_channel": str(channel_id)}, admin=True)
    assert _fields(saved)["Announcement channel"] == f"<#{channel_id}>"
    both = await harness.command(GUILD_A, ADMIN, "settings", {"announce_channel": str(channel_id),
                                                              "clear_channel": "true"}, admin=True)
    assert both.content == "Choose a channel or clear it, not both."
    cleared = await harness.command(GUILD_A, ADMIN, "settings", {"clear_channel": "true"}, admin=True)
    assert _fields(cleared)["Announcement channel"].startswith("none")
