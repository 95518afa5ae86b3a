"""Steam links in this server's file (`steam_users`, `steam_games`): link, unlink, a member's top games.

A link belongs to the server it was made in: the same member may link another account elsewhere.
`steam_games` keeps the list last read from Steam for the member (what a data export shows).
"""
from __future__ import annotations

from dataclasses import dataclass

from app.db import GuildDb
from app.errors import NotFoundError
from app.services.steam import OwnedGame, PlayerSummary, SteamClient

TOP_GAMES = 10


@dataclass(frozen=True, slots=True)
class SteamLink:
    discord_id: int
    steam_id: str
    vanity_name: str | None


async def fetch_steam_link(db: GuildDb, discord_id: int) -> SteamLink | None:
    row = await db.execute_fetchone("SELECT steam_id, vanity_name FROM steam_users WHERE discord_id = ?",
                                    (discord_id,))
    return SteamLink(discord_id, row[0], row[1]) if row else None


async def link_steam(db: GuildDb, steam: SteamClient, discord_id: int, profile: str) -> PlayerSummary:
    """Resolve `profile` and link it to the member in this server (replacing an earlier link).

    Raises:
        SteamError: the profile cannot be found, or Steam cannot be asked.
    """
    steam_id = await steam.resolve(profile)
    summary = await steam.summary(steam_id)
    vanity = _vanity_of(summary.profileurl)
    async with db.transaction():
        old = await fetch_steam_link(db, discord_id)
        if old is not None and old.steam_id != steam_id:
            await db.execute("DELETE FROM steam_games WHERE discord_id = ?", (discord_id,))
        await db.execute("INSERT INTO steam_users (discord_id, steam_id, vanity_name) VALUES (?, ?, ?) "
                         "ON CONFLICT (discord_id) DO UPDATE SET steam_id = excluded.steam_id, "
                         "vanity_name = excluded.vanity_name, linked_at = CURRENT_TIMESTAMP",
                         (discord_id, steam_id, vanity))
    return summary


def _vanity_of(profile_url: str) -> str | None:
    parts = [p for p in profile_url.split("/") if p]
    return parts[-1] if len(parts) >= 2 and parts[-2] == "id" else None


async def unlink_steam(db: GuildDb, discord_id: int) -> bool:
    """Remove the member's link and stored games here; False if there was none."""
    async with db.transaction():
        await db.execute("DELETE FROM steam_games WHERE discord_id = ?", (discord_id,))
        cur = await db.execute("DELETE FROM steam_users WHERE discord_id = ?", (discord_id,))
    return cur.rowcount > 0


async def top_games(db: GuildDb, steam: SteamClient, discord_id: int, *, limit: int = TOP_GAMES
                    ) -> tuple[SteamLink, list[OwnedGame]]:
    """The member's most played games (Steam's list, cached), stored in this server's file.

    Raises:
        NotFoundError: the member linked no Steam account in this server.
        SteamError: private game details, or Steam cannot be asked.
    """
    link = await fetch_steam_link(db, discord_id)
    if link is None:
        raise NotFoundError(f"<@{discord_id}> has not linked a Steam account in this server (/steam link).")
    games = await steam.owned_games(link.steam_id)
    async with db.transaction():
        await db.execute("DELETE FROM steam_games WHERE discord_id = ?", (discord_id,))
        await db.executemany("INSERT INTO steam_games (discord_id, app_id, name, playtime_minutes) VALUES (?, ?, ?, ?)",
                             [(discord_id, g.appid, g.name, g.playtime_minutes) for g in games])
    return link, games[:limit]


def hours(minutes: int) -> str:
    return f"{minutes / 60:,.1f} h"
