"""Local doubles of the outside services the bot talks to (Discord; AniList and Steam as features land)."""
from __future__ import annotations

from app.doubles.discord import DiscordDouble, DoubleError
from app.doubles.discord_state import Attachment, InteractionRecord, Reply

__all__ = ["Attachment", "DiscordDouble", "DoubleError", "InteractionRecord", "Reply"]
