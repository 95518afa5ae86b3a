"""Consent given and withdrawn from a server's own commands: each acts on the store at once.

A command holds only its own server's `GuildDb`: the figures it publishes are that server's.
"""
from __future__ import annotations

from datetime import datetime

from app.db import GuildDb
from app.shared.figures import MemberFigures, fetch_figures
from app.shared.publish import join_member, leave_member, list_joined, share_server, withdraw_server
from app.shared.store import SharedStore


async def start_sharing(shared: SharedStore, db: GuildDb, name: str, *, allow_compare: bool,
                        now: datetime) -> None:
    """`/server-data sharing on`: this server's figures, and its joined members' (if it shared before), now."""
    store = await shared.db()
    joined = await list_joined(store, db.guild_id)
    server, _ = await fetch_figures(db, now, joined)
    await share_server(store, db.guild_id, name, allow_compare=allow_compare, figures=server, now=now)
    shared.sharing.add(db.guild_id)
    shared.mark(db.guild_id, joined)


async def stop_sharing(shared: SharedStore, guild_id: int, now: datetime) -> bool:
    """`/server-data sharing off`: the server's row and its members' contributions go at once."""
    shared.sharing.discard(guild_id)
    shared.pending.pop(guild_id, None)
    return await withdraw_server(await shared.db(), guild_id, now)


async def join_here(shared: SharedStore, db: GuildDb, user_id: int, display_name: str | None, username: str,
                    now: datetime) -> tuple[str, MemberFigures]:
    """`/global join`: the member's figures in this server, published now; returns the name shown and them.

    Raises:
        UserFacingError: this server does not share.
    """
    _, figures = await fetch_figures(db, now, [user_id])
    name = await join_member(await shared.db(), db.guild_id, user_id, display_name, username, figures[user_id], now)
    shared.mark(db.guild_id, ())  # the server's own figures follow in the next round
    return name, figures[user_id]


async def leave_everywhere(shared: SharedStore, user_id: int) -> bool:
    """`/global leave`: the member's published row and every join, at once."""
    return await leave_member(await shared.db(), user_id)
