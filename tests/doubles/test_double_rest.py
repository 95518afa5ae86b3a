"""The REST routes the coming features need, through hikari's own client (so the shapes parse)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import hikari
import pytest
import pytest_asyncio

from app.sandbox.harness import BotHarness, running_bot

GUILD = 444_444_444_444_444_444
USER = 900_000_000_000_000_009


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD]) as h:
        h.double.ensure_member(GUILD, USER, name="alice")
        yield h


@pytest.mark.asyncio
async def test_guild_member_and_channels_are_fetched(harness: BotHarness) -> None:
    rest = harness.bot.bot.rest
    guild = await rest.fetch_guild(GUILD)
    member = await rest.fetch_member(GUILD, USER)
    channels = await rest.fetch_guild_channels(GUILD)

    assert guild.id == GUILD and guild.approximate_member_count == 2  # alice and the bot
    assert member.user.username == "alice"
    assert [c.id for c in channels] == [harness.double.guilds[GUILD].channel_id]
    with pytest.raises(hikari.NotFoundError):
        await rest.fetch_member(GUILD, 12345)
    with pytest.raises(hikari.NotFoundError):
        await rest.fetch_guild(555)


@pytest.mark.asyncio
async def test_channel_messages_are_created_fetched_edited_and_deleted(harness: BotHarness) -> None:
    rest = harness.bot.bot.rest
    channel = harness.double.guilds[GUILD].channel_id
    message = await rest.create_message(channel, "Weekly leaderboard", embed=hikari.Embed(title="Top readers"))
    fetched = await rest.fetch_message(channel, message.id)
    edited = await rest.edit_message(channel, message.id, "Weekly leaderboard (final)")
    await rest.delete_message(channel, message.id)

    assert fetched.content == "Weekly leaderboard" and fetched.embeds[0].title == "Top readers"
    assert edited.content == "Weekly leaderboard (final)"
    with pytest.raises(hikari.NotFoundError) as caught:
        await rest.fetch_message(channel, message.id)
    assert caught.value.code == 10008
    with pytest.raises(hikari.NotFoundError):
        await rest.edit_message(channel, message.id, "again")


@pytest.mark.asyncio
async def test_a_message_over_the_limit_raises_hikaris_bad_request_with_discords_errors(harness: BotHarness) -> None:
    channel = harness.double.guilds[GUILD].channel_id
    with pytest.raises(hikari.BadRequestError) as caught:
        await harness.bot.bot.rest.create_message(channel, "x" * 2001)
    assert caught.value.code == 50035 and "content" in (caught.value.errors or {})
    assert harness.double.channel_posts == []
