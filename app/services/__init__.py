"""Clients of the outside services the bot talks to (AniList)."""
