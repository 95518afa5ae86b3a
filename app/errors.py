"""The one exception hierarchy of the bot.

`UserFacingError` carries a sentence a Discord user or an operator may read;
everything else is infrastructure and is never shown verbatim.
"""
from __future__ import annotations


class BotError(Exception):
    """Root of every error the bot raises on purpose."""


class CommandUnansweredError(BotError):
    """A command returned without answering (a bug): its member gets the internal-error sentence, not silence."""


class UserFacingError(BotError):
    """A problem the person who asked can read and act on."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidInputError(UserFacingError, ValueError):
    """Input that was refused before anything changed."""


class InvalidGuildIdError(InvalidInputError):
    """A value that is not a Discord guild id (an int snowflake, 0 < id < 2**63)."""


class NotFoundError(UserFacingError):
    """The thing asked for does not exist."""


class AlreadyExistsError(UserFacingError):
    """The thing to create exists already."""


class PermissionDeniedError(UserFacingError):
    """The member lacks a permission the command needs."""


class ConfigurationError(UserFacingError):
    """A setting is missing or unusable; the message names it."""


class GuildDatabaseError(BotError):
    """A guild's (or the bot-wide) database file could not be used."""


class DatabaseQuarantinedError(GuildDatabaseError, UserFacingError):
    """The file was not a usable database of this guild and was moved aside (kept, not deleted)."""

    def __init__(self, user_message: str, *, quarantined_as: str) -> None:
        super().__init__(user_message)
        self.quarantined_as = quarantined_as


class DatabaseBusyError(GuildDatabaseError, UserFacingError):
    """The file stayed locked (by another connection or process) for longer than the busy timeout."""


class DatabaseUnreadableError(GuildDatabaseError, UserFacingError):
    """A healthy file this SQLite cannot read (e.g. newer syntax in its schema); kept where it is."""


class ResourceLimitError(GuildDatabaseError, UserFacingError):
    """The process cannot hold the connections it was configured for."""


class WrongShardError(GuildDatabaseError):
    """A guild on a shard this process does not serve (another process owns its file)."""


class ManagerClosedError(GuildDatabaseError):
    """The database manager was closed; no new connection is handed out."""


class FileInUseError(UserFacingError):
    """A guild's file is held by another process (a running bot), so it cannot be deleted from here."""


class BackupInvalidError(UserFacingError):
    """A backup copy failed verification (checksum, integrity_check, or the guild it holds)."""


class ReplicationError(BotError):
    """Litestream did not start, register, unregister or restore as asked."""


class RateLimitedError(UserFacingError):
    """The same request was made too recently; the message says when to try again."""


class ServiceUnavailableError(UserFacingError):
    """An outside service (AniList) is down, slow or limiting us; the sentence says which and what to do."""


class ServiceProtocolError(BotError):
    """An outside service refused a request the bot built (a bug on our side, never shown verbatim)."""


class LegacySplitError(UserFacingError):
    """The legacy database could not be split; the message says why and what to do."""


class UnknownLegacyTablesError(LegacySplitError):
    """The legacy database holds tables the split mapping does not place."""

    def __init__(self, user_message: str, *, tables: list[str]) -> None:
        super().__init__(user_message)
        self.tables = tables


class LegacySplitConflictError(LegacySplitError):
    """The output directory already holds data for a guild (or table) being split."""
