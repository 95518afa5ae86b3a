"""Erasure reaches memory too: features that buffer a member's or a server's data drop it on request.

XP is counted in memory and written in batches; a member who erases their data (or an admin
who deletes the server's) must not see a buffered gain written back a moment later. Data
rights call `forget()` before and after their work; buffering features subscribe.
"""
from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[int, int | None], None]  # (guild_id, user_id or None for the whole server)


class Forgetting:
    """One per bot, injectable by type."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def forget(self, guild_id: int, user_id: int | None = None) -> None:
        """Drop whatever is buffered for the member (or the whole server) in every subscriber."""
        for listener in self._listeners:
            listener(guild_id, user_id)
