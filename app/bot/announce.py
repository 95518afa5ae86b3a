"""Messages the bot posts on its own (level-ups, achievements) in a server's channels.

Discord may refuse (403: no permission in that channel) or the channel may be gone (404): each
is logged once per guild and channel, telling the operator where admins pick another channel, and
never raised into a listener or a command. Any other failure of Discord's (a 5xx, a 400, a rate limit
longer than the client waits, a dropped connection) is logged once per guild, channel and kind, and
the post is skipped the same way.
"""
from __future__ import annotations

import logging

import hikari

from app.db import GuildDb
from app.features.achievements import Achievement
from app.features.guild_settings import fetch_guild_settings

log = logging.getLogger(__name__)
_warned: set[tuple[int, int]] = set()
_failed: set[tuple[int, int, str]] = set()


async def announce(rest: hikari.api.RESTClient, guild_id: int, channel_id: int, text: str, *,
                   mention: int | None = None) -> bool:
    """Post `text` in the channel (pinging only `mention`); False if Discord refused."""
    try:
        await rest.create_message(channel_id, text, user_mentions=[mention] if mention else False,
                                  role_mentions=False, mentions_everyone=False)
    except (hikari.ForbiddenError, hikari.NotFoundError) as error:
        if (guild_id, channel_id) not in _warned:
            _warned.add((guild_id, channel_id))
            log.warning("cannot post in channel %s of guild %s (%s); an admin can choose another announcement "
                        "channel with /settings", channel_id, guild_id, type(error).__name__)
        return False
    except hikari.HikariError as error:  # Discord failing, not refusing: this post is lost, nothing else is
        if (guild_id, channel_id, type(error).__name__) not in _failed:
            _failed.add((guild_id, channel_id, type(error).__name__))
            log.warning("a post in channel %s of guild %s was skipped: Discord answered %s", channel_id, guild_id,
                        type(error).__name__)
        return False
    return True


def unlock_announcement(user_id: int, unlocked: list[Achievement]) -> str:
    names = ", ".join(f"**{a.name}**" for a in unlocked)
    return f"🏆 <@{user_id}> unlocked {names}!"


async def announce_unlocks(rest: hikari.api.RESTClient, db: GuildDb, user_id: int,
                           unlocked: list[Achievement]) -> None:
    """New achievements, in the server's announcement channel if one is set (the reply says it anyway)."""
    if not unlocked:
        return
    settings = await fetch_guild_settings(db)
    if settings.announce_channel_id is not None:
        await announce(rest, db.guild_id, settings.announce_channel_id, unlock_announcement(user_id, unlocked),
                       mention=user_id)
