"""The bot: hikari GatewayBot + lightbulb client, dependency injection of the guild database, errors, lifecycle."""
from __future__ import annotations

from app.bot.app import INTENTS, BotApp, create_bot, extension_modules
from app.bot.di import EventGuildDb, GuildFiles

__all__ = ["INTENTS", "BotApp", "EventGuildDb", "GuildFiles", "create_bot", "extension_modules"]
