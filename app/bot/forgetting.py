"""Erasure reaches memory too: features that buffer a member's or a server's data drop it on request.

XP is counted in memory and written in batches; a member who erases their data (or an admin
who deletes the server's) must not see a buffered gain written back a moment later. Data
rights call `forget()` before and after their work; buffering features subscribe.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

Listener = Callable[[int, int | None], None]  # (guild_id, user_id or None for the whole server)


class Forgetting:
    """One per bot, injectable by type."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop telling `listener` (a page menu that ended); unknown listeners are ignored."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def forget(self, guild_id: int, user_id: int | None = None) -> None:
        """Drop whatever is buffered for the member (or the whole server) in every subscriber."""
        for listener in list(self._listeners):  # a listener may unsubscribe itself
            listener(guild_id, user_id)
