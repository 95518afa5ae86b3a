"""A bot stand-in for the replication test: writes rows to one guild file, says "done", then waits to be killed."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.db import GuildDatabaseManager


async def write(root: Path, guild_id: int, rows: int) -> None:
    manager = GuildDatabaseManager(root)
    for user_id in range(1, rows + 1):
        async with manager.connect(guild_id) as db, db.transaction():  # one commit per row
            await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (user_id, f"u{user_id}"))
    print("done", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # never closes cleanly: killed


if __name__ == "__main__":
    asyncio.run(write(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
