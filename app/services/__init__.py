"""Clients of outside APIs (AniList, Steam)."""
