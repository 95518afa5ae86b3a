"""Publishing off the command path: marked servers' figures go to the store in batches, every few seconds.

Features only mark (memory, no await: `mark_dirty`); a round takes every mark, opens each marked
sharing server's file once, computes its figures and those of its marked members who joined, and
writes them in one store transaction per server. A failed server's marks are given back.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from app.db import GuildDb
from app.shared.figures import fetch_figures
from app.shared.publish import list_joined, publish_figures
from app.shared.store import SharedStore

log = logging.getLogger(__name__)

PUBLISH_INTERVAL_S = 30.0
OpenGuild = Callable[[int], AbstractAsyncContextManager[GuildDb]]
Repeat = Callable[[float, Callable[[], Awaitable[None]]], Coroutine[Any, Any, None]]


class Publisher:
    """The store's one writer of figures in a bot; `run()` is its loop (cancelled at shutdown)."""

    def __init__(self, store: SharedStore, open_guild: OpenGuild, now: Callable[[], datetime]) -> None:
        self.store = store
        self._open_guild = open_guild
        self._now = now
        self.published = 0  # servers written (for the benchmark and the tests)

    async def publish_round(self) -> None:
        """Publish everything marked so far; never raises (a failed server is retried next round)."""
        try:
            await self.store.reload_sharing()
        except Exception:
            log.exception("reading the shared store failed; publishing waits for the next round")
            return
        for guild_id, user_ids in self.store.take().items():
            if guild_id not in self.store.sharing:
                continue
            try:
                await self.publish_guild(guild_id, user_ids)
            except Exception:
                log.exception("publishing the figures of guild %s failed; retried next round", guild_id)
                self.store.mark(guild_id, user_ids)

    async def publish_guild(self, guild_id: int, user_ids: set[int] | None) -> None:
        """One server's figures and its joined members' (all of them when `user_ids` is None)."""
        store = await self.store.db()
        joined = await list_joined(store, guild_id, user_ids)
        now = self._now()
        async with self._open_guild(guild_id) as db:
            server, members = await fetch_figures(db, now, joined)
        await publish_figures(store, guild_id, server, members, now)
        self.published += 1


class PublisherTask:
    """Starts the publisher's loop once the store is open; `close()` stops it, then closes the store."""

    def __init__(self, publisher: Publisher, repeat: Repeat) -> None:
        self.publisher = publisher
        self._repeat = repeat
        self._task: asyncio.Task[None] | None = None
        publisher.store.on_open.append(self.start)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._repeat(PUBLISH_INTERVAL_S, self.publisher.publish_round))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.publisher.store.close()
