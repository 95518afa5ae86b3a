"""Erasure reaches memory too: features that buffer a member's or a server's data drop it on request.

XP is counted in memory and written in batches; a member who erases their data (or an admin
who deletes the server's) must not see a buffered gain written back a moment later. Data
rights call `forget()` before and after their work; buffering features subscribe.

Commands in flight are covered the same way: a command's lease notes the generation when the command
began, and opening the server's file after that member (or the whole server) was forgotten is refused,
so a `/manga update` that waited for AniList during an erasure writes nothing after it. An erasure also
waits (`settled`) for the member's commands that already hold the file, so their later writes land
before it and are erased with the rest.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import cachetools

Listener = Callable[[int, int | None], None]  # (guild_id, user_id or None for the whole server)

REMEMBERED = 100_000  # forgotten members/servers whose generation is kept (a command lasts minutes at most)


class Forgetting:
    """One per bot, injectable by type."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._generation = 0
        self._forgotten: cachetools.LRUCache[tuple[int, int | None], int] = cachetools.LRUCache(REMEMBERED)
        self._holding: dict[tuple[int, int], int] = {}  # (guild, member) -> commands holding the file
        self._released: dict[tuple[int, int], asyncio.Event] = {}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop telling `listener` (a page menu that ended); unknown listeners are ignored."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def forget(self, guild_id: int, user_id: int | None = None) -> None:
        """Drop whatever is buffered for the member (or the whole server) in every subscriber."""
        self._generation += 1
        self._forgotten[(guild_id, user_id)] = self._generation
        for listener in list(self._listeners):  # a listener may unsubscribe itself
            listener(guild_id, user_id)

    # -- commands in flight ----------------------------------------------------
    @property
    def generation(self) -> int:
        return self._generation

    def forgotten_since(self, generation: int, guild_id: int, user_id: int | None) -> bool:
        """Whether the server, or this member in it, was forgotten after `generation`."""
        server = self._forgotten.get((guild_id, None), 0)
        member = self._forgotten.get((guild_id, user_id), 0) if user_id is not None else 0
        return max(server, member) > generation

    def hold(self, guild_id: int, user_id: int) -> None:
        """A command of this member opened the server's file."""
        key = (guild_id, user_id)
        self._holding[key] = self._holding.get(key, 0) + 1

    def release(self, guild_id: int, user_id: int) -> None:
        key = (guild_id, user_id)
        left = self._holding.get(key, 0) - 1
        if left > 0:
            self._holding[key] = left
            return
        self._holding.pop(key, None)
        released = self._released.pop(key, None)
        if released is not None:
            released.set()

    async def settled(self, guild_id: int, user_id: int, *, within_s: float) -> None:
        """Until the member's commands holding the server's file are done (at most `within_s`)."""
        key = (guild_id, user_id)
        if key not in self._holding:
            return
        released = self._released.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), within_s)
