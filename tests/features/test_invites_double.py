"""What the Discord double adds for the invite tracker: deletion order on use, the vanity URL, its REST route."""
from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from app.doubles import DiscordDouble, DoubleError
from app.doubles import discord_permissions as perm
from tests.e2e import GUILD_A, MEMBER


async def _get(double: DiscordDouble, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(
            f"{double.rest_url}{path}", headers={"Authorization": f"Bot {double.token}"}) as response:
        return response.status, await response.json()


@pytest.mark.parametrize("delete_first", [False, True])
@pytest.mark.asyncio
async def test_a_used_up_invite_is_deleted_before_or_after_the_join(delete_first: bool) -> None:
    async with DiscordDouble() as double:
        double.place_bot(GUILD_A)
        sent: list[str] = []

        async def broadcast(event: str, data: dict[str, Any], *, intent: int = 0) -> int:
            sent.append(event)
            return 1

        double.gateway.broadcast = broadcast  # type: ignore[method-assign]
        await double.create_invite(GUILD_A, MEMBER, code="once", max_uses=1)
        await double.member_join(GUILD_A, 77, invite="once", delete_first=delete_first)
        joined_then_deleted = ["INVITE_CREATE", "GUILD_MEMBER_ADD", "INVITE_DELETE"]
        assert sent == (joined_then_deleted if not delete_first else
                        ["INVITE_CREATE", "INVITE_DELETE", "GUILD_MEMBER_ADD"])
        assert "once" not in double.guilds[GUILD_A].invites


@pytest.mark.asyncio
async def test_the_vanity_url_has_its_own_counter_and_route() -> None:
    async with DiscordDouble() as double:
        double.place_bot(GUILD_A)
        assert await _get(double, f"/guilds/{GUILD_A}/vanity-url") == (
            400, {"code": 50020, "message": "Invite code is either invalid or taken."})
        with pytest.raises(DoubleError):
            await double.member_join(GUILD_A, 77, vanity=True)
        double.set_vanity_url(GUILD_A, "club")
        await double.member_join(GUILD_A, 77, vanity=True)
        assert await _get(double, f"/guilds/{GUILD_A}/vanity-url") == (200, {"code": "club", "uses": 1})
        assert double.guilds[GUILD_A].create_payload()["features"] == ["VANITY_URL"]
        await double.set_role_permissions(GUILD_A, double.guilds[GUILD_A].bot_role_id,
                                          perm.BOT_INVITE & ~perm.MANAGE_GUILD)
        status, body = await _get(double, f"/guilds/{GUILD_A}/vanity-url")
        assert (status, body["code"]) == (403, 50013)


@pytest.mark.asyncio
async def test_an_invite_keeps_its_inviter_after_they_leave() -> None:
    async with DiscordDouble() as double:
        double.place_bot(GUILD_A)
        await double.create_invite(GUILD_A, MEMBER, code="abc")
        await double.member_leave(GUILD_A, MEMBER)
        status, body = await _get(double, f"/guilds/{GUILD_A}/invites")
        assert status == 200 and body[0]["inviter"]["id"] == str(MEMBER)
