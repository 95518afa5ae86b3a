"""A member's AniList link in one server (`users.anilist_username`, `users.anilist_id` of that server's file).

Linking is per server on purpose: a member linked here is not linked anywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.db import GuildDb
from app.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from app.features.text import shown
from app.services.anilist import AniListClient
from app.services.anilist_models import AniListUser

USERNAME_MIN, USERNAME_MAX = 2, 50


@dataclass(frozen=True, slots=True)
class Link:
    anilist_id: int
    anilist_name: str


async def fetch_link(db: GuildDb, user_id: int) -> Link | None:
    """This member's AniList account in this server, if linked."""
    row = await db.execute_fetchone(
        "SELECT anilist_id, anilist_username FROM users WHERE discord_id = ? AND anilist_id IS NOT NULL", (user_id,))
    return None if row is None else Link(int(row["anilist_id"]), str(row["anilist_username"] or ""))


def check_username(username: str) -> str:
    """The username as AniList would look it up.

    Raises:
        InvalidInputError: empty, too long, or holding spaces or invisible characters.
    """
    name = username.strip()
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX or not name.isprintable() or any(c.isspace() for c in name):
        raise InvalidInputError(f"An AniList username is {USERNAME_MIN} to {USERNAME_MAX} characters with no "
                                "spaces; copy it from your AniList profile address.")
    return name


async def find_account(client: AniListClient, username: str) -> AniListUser:
    """The public AniList account called `username`.

    Raises:
        InvalidInputError: the username cannot be an AniList username.
        NotFoundError: AniList has no public user by that name.
        ServiceUnavailableError: AniList is down, slow or busy.
    """
    user = await client.fetch_user(check_username(username))
    if user is None:
        raise NotFoundError(f"There is no public AniList user called “{shown(username.strip())}”: check the "
                            "spelling, and that the profile is not private (AniList settings, Privacy).")
    return user


async def link_account(db: GuildDb, client: AniListClient, user_id: int, display_name: str, username: str) -> Link:
    """`find_account`, then `store_link` (raises what they raise)."""
    return await store_link(db, user_id, display_name, await find_account(client, username))


async def store_link(db: GuildDb, user_id: int, display_name: str, user: AniListUser) -> Link:
    """Link the account to this member in this server (stats fetched for an earlier link are dropped).

    Raises:
        AlreadyExistsError: another member of this server linked that account.
    """
    async with db.transaction():  # the check and the write together: two members racing get one link
        taken = await db.execute_fetchone(
            "SELECT discord_id FROM users WHERE anilist_id = ? AND discord_id != ?", (user.id, user_id))
        if taken is not None:
            raise AlreadyExistsError(f"Another member of this server has linked the AniList account "
                                     f"“{shown(user.name)}”.")
        await db.execute(
            "INSERT INTO users (discord_id, username, anilist_username, anilist_id) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (discord_id) DO UPDATE SET username = excluded.username, "
            "anilist_username = excluded.anilist_username, anilist_id = excluded.anilist_id, "
            "updated_at = CURRENT_TIMESTAMP", (user_id, display_name, user.name, user.id))
        await db.execute("DELETE FROM cached_stats WHERE discord_id = ?", (user_id,))  # another account's
    return Link(user.id, user.name)


async def unlink_account(db: GuildDb, user_id: int) -> Link:
    """Forget this member's AniList link (and the stats fetched through it) in this server.

    Raises:
        NotFoundError: the member has no link here.
    """
    link = await fetch_link(db, user_id)
    if link is None:
        raise NotFoundError("You have no AniList account linked in this server.")
    async with db.transaction():
        await db.execute("UPDATE users SET anilist_username = NULL, anilist_id = NULL, "
                         "updated_at = CURRENT_TIMESTAMP WHERE discord_id = ?", (user_id,))
        await db.execute("DELETE FROM cached_stats WHERE discord_id = ?", (user_id,))
    return link
