"""`python -m app global rebuild`: recompute the store from the sharing servers' files; report what differed.

Only servers that share contribute, so only their files are read; a sharing server whose file is gone
is withdrawn. After a rebuild, the incremental values should equal the recomputed ones (a test asserts it).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db import GuildDatabaseManager
from app.db.connection import Database
from app.shared.figures import fetch_figures
from app.shared.publish import list_joined, publish_figures, withdraw_server
from app.shared.store import connect_store

Progress = Callable[[list[int]], Iterable[int]]


@dataclass
class RebuildReport:
    servers: int = 0
    members: int = 0
    guild_files: int = 0  # on disk, sharing or not
    withdrawn: list[int] = field(default_factory=list)  # sharing, but their file is gone
    differences: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"servers": self.servers, "members": self.members, "guild_files": self.guild_files,
                "withdrawn": self.withdrawn, "differences": self.differences}


async def _snapshot(store: Database) -> dict[str, tuple[Any, ...]]:
    servers = await store.execute_fetchall("SELECT guild_id, members, chapters_month, chapters_total, top_genres, "
                                           "active_challenges FROM servers")
    members = await store.execute_fetchall("SELECT user_id, chapters, xp, level, achievements FROM members")
    values = {f"server {r[0]}": tuple(r)[1:] for r in servers}
    values.update({f"member {r[0]}": tuple(r)[1:] for r in members})
    return values


def _differences(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[str]:
    found = []
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key):
            found.append(f"{key}: {before.get(key, 'absent')} → {after.get(key, 'absent')}")
    return found


async def rebuild_store(manager: GuildDatabaseManager, now: datetime, *,
                        progress: Progress | None = None) -> RebuildReport:
    """Recompute every sharing server's and joined member's figures from the guild files."""
    on_disk = set(manager.guild_ids_on_disk())
    report = RebuildReport(guild_files=len(on_disk))
    async with connect_store(manager.root) as store:
        if store is None:
            return report
        before = await _snapshot(store)
        sharing = sorted(int(r[0]) for r in await store.execute_fetchall("SELECT guild_id FROM servers"))
        for guild_id in (progress(sharing) if progress is not None else sharing):
            if guild_id not in on_disk:
                await withdraw_server(store, guild_id, now)
                report.withdrawn.append(guild_id)
                continue
            joined = await list_joined(store, guild_id)
            async with manager.connect(guild_id) as db:
                server, members = await fetch_figures(db, now, joined)
            await publish_figures(store, guild_id, server, members, now)
        await store.execute("DELETE FROM members WHERE user_id NOT IN (SELECT user_id FROM member_joins)")
        after = await _snapshot(store)
    report.servers = sum(1 for k in after if k.startswith("server "))
    report.members = len(after) - report.servers
    report.differences = _differences(before, after)
    return report
