"""Storage: one SQLite file per guild, one bot-wide file, and the manager that opens them."""
from __future__ import annotations

from app.db.connection import BotDb, Database, GuildDb, Result
from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path, parse_guild_id, validate_guild_id
from app.db.manager import GuildDatabaseManager, ManagerStats
from app.db.schema import BOT_SCHEMA, GUILD_SCHEMA, Schema

__all__ = [
    "BOT_FILE_NAME",
    "BOT_SCHEMA",
    "GUILD_SCHEMA",
    "BotDb",
    "Database",
    "GuildDatabaseManager",
    "GuildDb",
    "ManagerStats",
    "Result",
    "Schema",
    "guild_file_name",
    "guild_id_from_path",
    "parse_guild_id",
    "validate_guild_id",
]
