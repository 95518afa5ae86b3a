"""The invite tracker wired to Discord: reading invite lists with hikari, recording batches, the log channel.

One `InviteService` per bot (injectable). The log channel gets one message per batch of joins (a raid
is a few messages, not hundreds), and once per server the news that the bot lacks Manage Server. A 403
or 404 on the log channel is logged once per server and channel and never raised into a listener.
"""
from __future__ import annotations

import logging

import hikari

from app.bot.clock import Clock
from app.bot.di import EventGuildDb
from app.bot.forgetting import Forgetting
from app.db.shards import ShardBlock
from app.features import invites
from app.features.invite_snapshot import InviteCount, Snapshot
from app.features.invite_tracker import REFRESH_RATE_PER_S, Batch, InvitesForbidden, InviteTracker, Join

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
NO_MANAGE_SERVER = ("I cannot read this server's invites: give my role the **Manage Server** permission so I can "
                    "tell which invite each member used. Joins and leaves are still recorded (as unknown).")


def invite_count(invite: hikari.InviteWithMetadata) -> InviteCount:
    inviter = int(invite.inviter.id) if invite.inviter is not None else None
    return InviteCount(invite.code, inviter, invite.uses, invite.max_uses or 0, invite.expires_at)


class InviteService:
    """The tracker, its Discord side, and what admins were told."""

    def __init__(self, bot: hikari.GatewayBot, guild_dbs: EventGuildDb, clock: Clock,
                 block: ShardBlock | None = None, forgetting: Forgetting | None = None) -> None:
        self._rest = bot.rest
        self._guild_dbs = guild_dbs
        self.clock = clock
        self._forgetting = forgetting
        # Discord's global limit is the bot's, whatever the processes: each takes its block's share
        share = 1.0 if block is None else len(block.shard_ids) / block.shard_count
        self.tracker = InviteTracker(self._fetch, self._deliver, clock.now, refresh_rate=REFRESH_RATE_PER_S * share)
        self._told: set[int] = set()  # servers whose log channel heard about Manage Server
        self._forbidden: set[int] = set()
        self._warned: set[tuple[int, int]] = set()

    def lacks_manage_server(self, guild_id: int) -> bool:
        return guild_id in self._forbidden

    async def _fetch(self, guild_id: int) -> Snapshot:
        try:
            found = await self._rest.fetch_guild_invites(guild_id)
        except hikari.ForbiddenError as error:
            raise InvitesForbidden("no Manage Server") from error
        if any(not isinstance(i, hikari.InviteWithMetadata) for i in found):
            raise InvitesForbidden("invites without use counts (View Audit Log but no Manage Server)")
        return {i.code: invite_count(i) for i in found if isinstance(i, hikari.InviteWithMetadata)}

    @property
    def generation(self) -> int:
        """The bot's erasure count now: a join notes it, and one forgotten since is not recorded."""
        return self._forgetting.generation if self._forgetting is not None else 0

    def _still_kept(self, batch: Batch) -> list[Join]:
        """The batch's joins whose member (or server) was not forgotten since the join was seen."""
        forgetting = self._forgetting
        if forgetting is None:
            return batch.joins
        return [j for j in batch.joins if not forgetting.forgotten_since(j.generation, batch.guild_id, j.user_id)]

    async def _deliver(self, batch: Batch) -> None:
        if not self._still_kept(batch) and not batch.forbidden:
            self._note_permission(batch)
            return  # a snapshot alone opens no file: thousands of servers become available at start-up
        async with self._guild_dbs.for_event(batch.source) as db:
            joins = self._still_kept(batch)  # again: an erasure may have run while the file was opening
            settings = await invites.fetch_invite_settings(db)
            if batch.snapshot is not None:
                await invites.save_snapshot(db, batch.snapshot)
            if not joins or not settings.enabled:
                recorded, stats = [], None
            else:
                recorded = await invites.record_joins(db, [(j.user_id, j.joined_at) for j in joins],
                                                      batch.verdict.invite, settings.fake_threshold_days)
                invite = batch.verdict.invite
                stats = (await invites.fetch_inviter_stats(db, invite.inviter_id)
                         if invite is not None and invite.inviter_id is not None else None)
        self._note_permission(batch)
        channel_id = settings.log_channel_id
        if channel_id is None:
            return
        if batch.forbidden and batch.guild_id not in self._told and await self.post(batch.guild_id, channel_id,
                                                                                     NO_MANAGE_SERVER):
            self._told.add(batch.guild_id)
        lines = [invites.welcome_text(settings, r, stats, batch.verdict.reason) for r in recorded]
        for text in _messages(lines):
            await self.post(batch.guild_id, channel_id, text)

    def _note_permission(self, batch: Batch) -> None:
        if batch.forbidden:
            if batch.guild_id not in self._forbidden:
                log.info("guild %s: the bot lacks Manage Server; joins are recorded as unknown", batch.guild_id)
            self._forbidden.add(batch.guild_id)
        elif batch.snapshot is not None:
            self._forbidden.discard(batch.guild_id)
            self._told.discard(batch.guild_id)  # a later loss of the permission is told again

    async def post(self, guild_id: int, channel_id: int, text: str) -> bool:
        """Post in the log channel (mentions shown, nobody pinged); False if Discord refused."""
        try:
            await self._rest.create_message(channel_id, text, user_mentions=False, role_mentions=False,
                                            mentions_everyone=False)
        except (hikari.ForbiddenError, hikari.NotFoundError) as error:
            if (guild_id, channel_id) not in self._warned:
                self._warned.add((guild_id, channel_id))
                log.warning("cannot post in the invite log channel %s of guild %s (%s); an admin can choose "
                            "another with /invites settings", channel_id, guild_id, type(error).__name__)
            return False
        return True

    async def close(self) -> None:
        await self.tracker.close()


def _messages(lines: list[str]) -> list[str]:
    """Lines packed into as few messages as Discord's length limit allows."""
    out: list[str] = []
    for line in lines:
        line = line[:MESSAGE_LIMIT]
        if out and len(out[-1]) + 1 + len(line) <= MESSAGE_LIMIT:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out
