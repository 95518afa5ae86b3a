"""The bot's own posts (level-ups, achievements, challenge winners) never raise: whatever Discord answers, the
listener or command that posts goes on, and the operator reads one line about it."""
from __future__ import annotations

import logging
from typing import Any

import hikari
import pytest
from hikari.internal import routes

from app.bot.announce import announce


class _Rest:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def create_message(self, *args: Any, **kwargs: Any) -> None:
        raise self.error


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [
    hikari.InternalServerError("https://discord.test/x", 502, {}, b"bad gateway"),
    hikari.BadRequestError("https://discord.test/x", {}, b"{}", "Invalid Form Body", 50035),
    hikari.RateLimitTooLongError(route=routes.POST_CHANNEL_MESSAGES.compile(channel=1), is_global=False,
                                 retry_after=120.0, max_retry_after=60.0, reset_at=0.0, limit=5, period=5.0),
])
async def test_any_refusal_of_discords_is_logged_not_raised(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rest: Any = _Rest(error)
    assert await announce(rest, 555, 777, "hello") is False
    assert await announce(rest, 555, 777, "again") is False
    assert len([r for r in caplog.records if "777" in r.getMessage()]) == 1  # once per guild, channel and kind
