"""What commands and listeners may ask for by type (lightbulb dependency injection).

Isolation by construction: a command receives the `GuildDb` of `ctx.guild_id`
and nothing that could open another guild's file. The manager itself is never
injectable.

- `GuildDb`: one lease per command run, opened on first use, released when the
  command's DI container closes (after the error handler has run).
- `GuildFiles`: guild-level operations (export snapshot, exclusive hold for
  deletion, the bot-wide file for receipts) bound to `ctx.guild_id`.
- `Settings`: the bot's settings.
- `AniListClient`, `MediaLookup`, `RefreshCooldown`: AniList access (paced, bot-wide), public media data
  cached bot-wide, the in-memory `/stats refresh` cooldown (keyed by guild and member).
- `Clock`: the one time source (`now()`, `sleep()`, `repeat()`); the sandbox advances it.
- `SharedStore`: the cross-server store (consented aggregates only); its publisher, which opens a
  marked sharing guild's file to compute that guild's figures, is reachable only through the closure.
- `EventGuildDb` (listeners): opens the database of the guild an event is about,
  and only that one.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import hikari
import lightbulb

from app.bot.clock import Clock
from app.bot.forgetting import Forgetting
from app.config import Settings
from app.db import BotDb, GuildDatabaseManager, GuildDb
from app.db.fleet import file_size
from app.db.slots import Lease
from app.errors import UserFacingError
from app.features.media import MediaLookup
from app.features.stats import RefreshCooldown
from app.services.anilist import AniListClient
from app.shared.publisher import Publisher, PublisherTask
from app.shared.store import SharedStore

GUILD_ONLY_MESSAGE = "This command works only inside a server, not in direct messages."
FORGOTTEN_MEMBER_MESSAGE = ("Your data in this server was erased while this command ran, so it did nothing; "
                            "run it again to start afresh.")
FORGOTTEN_SERVER_MESSAGE = ("This server's data was deleted while this command ran, so it did nothing; "
                            "run it again to start afresh.")


class CommandLease:
    """The lease on this command's guild database, opened lazily, released at the end of the run."""

    __slots__ = ("_began", "_db", "_forgetting", "_lease", "_manager", "guild_id", "user_id")

    def __init__(self, manager: GuildDatabaseManager, guild_id: int | None, *, user_id: int | None = None,
                 forgetting: Forgetting | None = None) -> None:
        self._manager = manager
        self.guild_id = guild_id
        self.user_id = user_id
        self._forgetting = forgetting
        self._began = forgetting.generation if forgetting is not None else 0
        self._lease: Lease | None = None
        self._db: GuildDb | None = None

    @property
    def held(self) -> bool:
        return self._lease is not None

    async def open(self) -> GuildDb:
        if self._db is not None:
            return self._db
        if self.guild_id is None:
            raise UserFacingError(GUILD_ONLY_MESSAGE)
        self._check_not_forgotten()
        lease = self._manager.connect(self.guild_id)
        db = await lease.__aenter__()
        try:
            self._check_not_forgotten()  # the wait for the lease may have let an erasure run
        except UserFacingError:
            await lease.__aexit__(None, None, None)
            raise
        self._db, self._lease = db, lease
        if self._forgetting is not None and self.user_id is not None:
            self._forgetting.hold(self.guild_id, self.user_id)
        return self._db

    def _check_not_forgotten(self) -> None:
        """A command begun before its member's erasure (or the server's deletion) writes nothing after it."""
        if self._forgetting is None or self.guild_id is None or self._forgetting.generation == self._began:
            return  # nothing was forgotten anywhere since the command began (the hot path: one comparison)
        if self._forgetting.forgotten_since(self._began, self.guild_id, None):
            raise UserFacingError(FORGOTTEN_SERVER_MESSAGE)
        if self.user_id is not None and self._forgetting.forgotten_since(self._began, self.guild_id, self.user_id):
            raise UserFacingError(FORGOTTEN_MEMBER_MESSAGE)

    async def release(self) -> None:
        lease, self._lease, self._db = self._lease, None, None
        if lease is not None:
            try:
                await lease.__aexit__(None, None, None)
            finally:
                if self._forgetting is not None and self.guild_id is not None and self.user_id is not None:
                    self._forgetting.release(self.guild_id, self.user_id)


class GuildFiles:
    """Guild-level file operations on the invoking guild only (its id is fixed at construction).

    For data-rights commands: `path`, `connect()` for a short lease (export with the
    backup API via `db.run`), `exclusive()` to delete or replace the file, `connect_bot()`
    for receipts.
    Do not hold the command's `GuildDb` while entering `exclusive()`: it waits for
    every lease on the guild, so it refuses to start if this command holds one.
    """

    __slots__ = ("_lease", "_manager", "guild_id")

    def __init__(self, manager: GuildDatabaseManager, guild_id: int, lease: CommandLease) -> None:
        self._manager = manager
        self._lease = lease
        self.guild_id = guild_id

    @property
    def path(self) -> Path:
        return self._manager.path_for(self.guild_id)

    def size(self) -> int:
        """Bytes of the guild's file with its side files (0 if it has none)."""
        return file_size(self.path)

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Path]:
        """No connection to this guild's file is open inside the block; new work waits."""
        if self._lease.held:
            raise RuntimeError("release the command's GuildDb before holding its guild exclusively")
        async with self._manager.exclusive(self.guild_id) as path:
            yield path

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[GuildDb]:
        """A short lease on this guild's database, for work between exclusive holds."""
        async with self._manager.connect(self.guild_id) as db:
            yield db

    @asynccontextmanager
    async def connect_bot(self) -> AsyncIterator[BotDb]:
        """The bot-wide file (deletion receipts, the registry)."""
        async with self._manager.connect_bot() as bot_db:
            yield bot_db


class EventGuildDb:
    """For listeners: `async with guild_dbs.for_event(event) as db` opens that event's guild only."""

    __slots__ = ("_manager",)

    def __init__(self, manager: GuildDatabaseManager) -> None:
        self._manager = manager

    def for_event(self, event: hikari.GuildEvent | hikari.GuildMessageCreateEvent) -> Lease:
        return self._manager.connect(int(event.guild_id))

    def for_interaction(self, interaction: hikari.ComponentInteraction | hikari.AutocompleteInteraction) -> Lease:
        """The guild a button was pressed or an option typed in (the caller checks `guild_id` is set)."""
        return self._manager.connect(int(interaction.guild_id or 0))

    def for_scheduled(self, guild_id: int) -> Lease:
        """Work the bot scheduled itself for a guild it learnt of from an event (a challenge's end)."""
        return self._manager.connect(guild_id)

    def has_file(self, guild_id: int) -> bool:
        """Whether the guild has a file (scheduled work must not create one for a server that never used the bot)."""
        return self._manager.path_for(guild_id).exists()


def _command_lease(ctx: lightbulb.Context, manager: GuildDatabaseManager,
                   forgetting: Forgetting | None = None) -> CommandLease:
    return CommandLease(manager, int(ctx.guild_id) if ctx.guild_id is not None else None, user_id=int(ctx.user.id),
                        forgetting=forgetting)


async def _guild_db(lease: CommandLease) -> GuildDb:
    return await lease.open()


def _guild_files(ctx: lightbulb.Context, manager: GuildDatabaseManager, lease: CommandLease) -> GuildFiles:
    if ctx.guild_id is None:
        raise UserFacingError(GUILD_ONLY_MESSAGE)
    return GuildFiles(manager, int(ctx.guild_id), lease)


def install(client: lightbulb.Client, manager: GuildDatabaseManager, settings: Settings,
            clock: Clock | None = None) -> AniListClient:
    """Register the injectable types; the manager is reachable only through the factories' closures.

    Returns the bot's one AniList client (the sandbox reads its pace).
    """
    default = client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
    default.register_value(Settings, settings)
    clock = clock or Clock()
    default.register_value(Clock, clock)
    forgetting = Forgetting()
    default.register_value(Forgetting, forgetting)
    default.register_value(EventGuildDb, EventGuildDb(manager))
    # AniList: one paced client per bot; media data is public, so its cache is the bot-wide file's
    anilist = AniListClient(settings.anilist_url, rate_per_min=settings.anilist_rate_per_min)
    default.register_value(AniListClient, anilist)
    default.register_value(MediaLookup, MediaLookup(anilist, manager.connect_bot))
    default.register_value(RefreshCooldown, RefreshCooldown(clock=lambda: clock.now().timestamp()))
    shared = PublisherTask(Publisher(SharedStore(manager.root), manager.connect, clock.now), clock.repeat)
    default.register_factory(SharedStore, lambda: shared.publisher.store, teardown=lambda _: shared.close())

    def command_lease(ctx: lightbulb.Context) -> CommandLease:
        return _command_lease(ctx, manager, forgetting)

    def guild_files(ctx: lightbulb.Context, lease: CommandLease) -> GuildFiles:
        return _guild_files(ctx, manager, lease)

    command = client.di.registry_for(lightbulb.di.Contexts.COMMAND)
    command.register_factory(CommandLease, command_lease, teardown=CommandLease.release)
    command.register_factory(GuildDb, _guild_db)
    command.register_factory(GuildFiles, guild_files)
    return anilist
