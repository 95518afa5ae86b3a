"""Rate limits as Discord sends them; hikari waits and retries, the bot neither gives up nor crashes."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from app.bot.app import extension_modules
from app.doubles import DiscordDouble
from app.sandbox.harness import BotHarness, running_bot

GUILD = 444_444_444_444_444_444
USER = 900_000_000_000_000_009
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After",
           "X-RateLimit-Bucket")


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    extensions = [*extension_modules(), "tests.doubles.widgets_ext"]
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD], extensions=extensions) as h:
        yield h


@pytest.mark.asyncio
async def test_every_answer_carries_the_rate_limit_headers_and_buckets_are_per_route() -> None:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http:
        double.place_bot(GUILD)
        auth = {"Authorization": f"Bot {double.token}"}
        buckets = set()
        for path in ("/users/@me", "/users/@me", f"/guilds/{GUILD}", f"/guilds/{GUILD}/channels"):
            async with http.get(f"{double.rest_url}{path}", headers=auth) as response:
                assert response.status == 200
                assert all(h in response.headers for h in HEADERS), path
                buckets.add(response.headers["X-RateLimit-Bucket"])
        assert len(buckets) == 3


@pytest.mark.asyncio
async def test_over_the_route_limit_is_429_with_retry_after_and_scope() -> None:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http:
        double.rate_limits.route_limit, double.rate_limits.window = 2, 60.0
        auth = {"Authorization": f"Bot {double.token}"}
        statuses = []
        for _ in range(3):
            async with http.get(f"{double.rest_url}/users/@me", headers=auth) as response:
                statuses.append(response.status)
                last, headers = await response.json(), response.headers
        assert statuses == [200, 200, 429]
        assert last["message"] == "You are being rate limited." and 0 < last["retry_after"] <= 60
        assert last["global"] is False and headers["X-RateLimit-Scope"] == "user"
        assert headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.asyncio
async def test_over_the_global_limit_is_a_global_429() -> None:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http:
        double.rate_limits.global_limit = 1
        auth = {"Authorization": f"Bot {double.token}"}
        async with http.get(f"{double.rest_url}/users/@me", headers=auth) as first:
            assert first.status == 200
        async with http.get(f"{double.rest_url}/oauth2/applications/@me", headers=auth) as second:
            body = await second.json()
            assert second.status == 429 and body["global"] is True
            assert second.headers["X-RateLimit-Global"] == "true" and second.headers["X-RateLimit-Scope"] == "global"


@pytest.mark.asyncio
@pytest.mark.parametrize("scope", ["user", "shared", "global"])
async def test_hikari_waits_and_retries_after_a_429(harness: BotHarness, scope: str) -> None:
    limits = harness.double.rate_limits
    limits.force_429(retry_after=0.2, scope=scope)

    reply = await harness.command(GUILD, USER, "widgets announce")

    assert reply.content == "Posted 1."
    assert [m.content for m in harness.double.channel_posts] == ["Announcement 1"]
    posts = [outcome for key, outcome in limits.hits if key.startswith("POST /api/v10/channels/")]
    assert posts == [f"429:{scope}", "ok"]


@pytest.mark.asyncio
async def test_a_lowered_route_limit_slows_the_bot_down_without_losing_a_message(harness: BotHarness) -> None:
    limits = harness.double.rate_limits
    limits.route_limit, limits.window = 1, 0.2

    reply = await harness.command(GUILD, USER, "widgets announce", {"count": "3"}, timeout=20)

    assert reply.content == "Posted 3."
    assert [m.content for m in harness.double.channel_posts] == [f"Announcement {n}" for n in (1, 2, 3)]
