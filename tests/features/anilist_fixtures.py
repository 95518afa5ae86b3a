"""Fixtures for the AniList features' end-to-end tests: the real bot, the Discord double, the AniList double."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.config import Settings
from app.doubles.anilist import AniListDouble
from app.doubles.discord_state import Reply
from app.sandbox.harness import BotHarness, running_bot
from app.services.anilist import AniListClient
from tests.e2e import GUILD_A, GUILD_B

FAST_TIMEOUT_S = 0.3  # the client's per-request timeout once AniList stalls (5 s in the bot)


@dataclass
class World:
    bot: BotHarness
    anilist: AniListDouble
    clients: list[AniListClient] = field(default_factory=list)  # the bot's (a restart makes another)

    def fail(self, fault: str | None) -> None:
        """`anilist.fail(fault)`; for a stall, the bot's requests time out after FAST_TIMEOUT_S (not 5 s).

        Only for a stall: the double's answers to the other requests took more than 0.3 s now and then on a
        loaded machine, and a timed-out request is an answer the test did not expect.
        """
        self.anilist.fail(fault)
        if fault == "stall":
            for client in self.clients:
                client.timeout = FAST_TIMEOUT_S

    def text(self, reply: Reply) -> str:
        """Content plus every embed's text, for asserting what a member reads."""
        parts = [reply.content]
        for embed in reply.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)


@pytest_asyncio.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    clients: list[AniListClient] = []
    init = AniListClient.__init__

    def recorded(self: AniListClient, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        clients.append(self)

    monkeypatch.setattr(AniListClient, "__init__", recorded)
    async with AniListDouble() as anilist:
        settings = Settings(anilist_url=anilist.url, anilist_rate_per_min=6000)
        async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B], settings=settings) as bot:
            yield World(bot, anilist, clients)
