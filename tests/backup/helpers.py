"""What the backup tests share: guild files with members in them, and who is in a copy."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from app.db import GuildDatabaseManager


async def add_users(root: Path, guild_id: int, *user_ids: int) -> None:
    """Members in the guild's file under `root`, the bot-wide file made too (as a running bot has it)."""
    async with GuildDatabaseManager(root) as manager:
        async with manager.connect_bot():
            pass
        for user_id in user_ids:
            async with manager.connect(guild_id) as db, db.transaction():
                await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (user_id, f"u{user_id}"))


def users_in(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT discord_id FROM users")}
    finally:
        conn.close()
