"""The invite tracker: `/invites stats|leaderboard` (everyone), `/invites-admin settings|bonus` (admins).

Discord sets who sees a command per top-level command, so the admin subcommands are their own group.
Listeners feed the tracker (`app/features/invite_tracker.py`): a server becoming available takes its
invite snapshot, INVITE_CREATE/DELETE keep it current, each join is attributed (or recorded as unknown)
and each leave recorded with the days the member stayed.
"""
from __future__ import annotations

from typing import cast

import hikari
import lightbulb

from app.bot.checks import ADMIN_DEFAULT, GUILD_CONTEXT, admin_only
from app.bot.clock import Clock
from app.bot.di import CommandLease, EventGuildDb
from app.bot.forgetting import Forgetting
from app.bot.pages import respond_paginated
from app.bot.provide import Provide
from app.config import Settings
from app.db import GuildDb
from app.errors import InvalidInputError
from app.extensions._invite_service import NO_MANAGE_SERVER, InviteService, invite_count
from app.features import invites as inv
from app.features.invite_tracker import Join

loader = lightbulb.Loader()
TEXT_CHANNELS = [hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_NEWS]
SETTLE_WAIT_S = 3.0  # a command waits at most this for the joins already seen to be recorded


def _invite_service(bot: hikari.GatewayBot, guild_dbs: EventGuildDb, clock: Clock,
                    settings: Settings, forgetting: Forgetting) -> InviteService:
    return InviteService(bot, guild_dbs, clock, block=settings.shard_block, forgetting=forgetting)


loader.add(Provide(InviteService, _invite_service, teardown=InviteService.close))


# -- listeners ------------------------------------------------------------------
@loader.listener(hikari.GuildAvailableEvent)
async def on_available(event: hikari.GuildAvailableEvent, service: InviteService) -> None:
    """Start-up, the end of an outage: the counts from before are worthless, read them anew."""
    service.tracker.refresh(int(event.guild_id), event)


@loader.listener(hikari.GuildJoinEvent)
async def on_bot_added(event: hikari.GuildJoinEvent, service: InviteService) -> None:
    service.tracker.refresh(int(event.guild_id), event)


@loader.listener(hikari.GuildLeaveEvent)
async def on_bot_removed(event: hikari.GuildLeaveEvent, service: InviteService) -> None:
    service.tracker.forget(int(event.guild_id))


@loader.listener(hikari.InviteCreateEvent)
async def on_invite_created(event: hikari.InviteCreateEvent, service: InviteService) -> None:
    if event.guild_id is not None:
        service.tracker.invite_created(int(event.guild_id), invite_count(event.invite))


@loader.listener(hikari.InviteDeleteEvent)
async def on_invite_deleted(event: hikari.InviteDeleteEvent, service: InviteService) -> None:
    if event.guild_id is not None:
        service.tracker.invite_deleted(int(event.guild_id), event.code)


@loader.listener(hikari.MemberCreateEvent)
async def on_member_join(event: hikari.MemberCreateEvent, service: InviteService) -> None:
    """Bots come by OAuth, not by invite: not counted."""
    if not event.user.is_bot:
        service.tracker.member_joined(int(event.guild_id), Join(int(event.user.id), service.clock.now(), event,
                                                                generation=service.generation))


@loader.listener(hikari.MemberDeleteEvent)
async def on_member_leave(event: hikari.MemberDeleteEvent, service: InviteService, guild_dbs: EventGuildDb) -> None:
    """A leave, a kick or a ban (Discord does not say which); after the join it may follow is recorded."""
    if event.user.is_bot:
        return
    await service.tracker.settled(int(event.guild_id))
    async with guild_dbs.for_event(cast(hikari.GuildEvent, event)) as db:  # it reads `guild_id` only
        await inv.record_leave(db, int(event.user.id), service.clock.now())


# -- commands -------------------------------------------------------------------
invites = lightbulb.Group("invites", "Who brought whom to this server", contexts=GUILD_CONTEXT)
invites_admin = lightbulb.Group("invites-admin", "Invite tracker settings and bonus invites (admins)",
                                contexts=GUILD_CONTEXT, default_member_permissions=ADMIN_DEFAULT)


def invites_word(count: int) -> str:
    return "invite" if abs(count) == 1 else "invites"


def stats_embed(stats: inv.InviterStats) -> hikari.Embed:
    embed = hikari.Embed(title="Invites", description=f"<@{stats.inviter_id}> has **{stats.score}** "
                                                      f"{invites_word(stats.score)}.")
    for name, value in (("Joined", stats.total), ("Stayed", stats.valid), ("Left", stats.left),
                        ("Fake", stats.fake), ("Bonus", stats.bonus)):
        embed.add_field(name, str(value), inline=True)
    return embed


def leaderboard_line(rank: int, stats: inv.InviterStats) -> str:
    return (f"**#{rank}** <@{stats.inviter_id}> — {stats.score} ({stats.valid} stayed, {stats.left} left, "
            f"{stats.fake} fake, {stats.bonus:+d} bonus)")


def leaderboard_lines(rows: list[inv.InviterStats]) -> list[str]:
    """One line per inviter; equal scores share a rank (1, 2, 2, 4), as on /leaderboard."""
    lines, rank = [], 0
    for position, stats in enumerate(rows, start=1):
        rank = rank if position > 1 and stats.score == rows[position - 2].score else position
        lines.append(leaderboard_line(rank, stats))
    return lines


async def _settled_db(lease: CommandLease, service: InviteService) -> GuildDb:
    """This server's file once the joins the bot has already seen are recorded (at most `SETTLE_WAIT_S`, and
    before the file is leased: recording them needs it), so a count never lags behind a join just shown."""
    if lease.guild_id is not None:
        await service.tracker.settled(lease.guild_id, within_s=SETTLE_WAIT_S)
    return await lease.open()


@invites.register
class InvitesStats(lightbulb.SlashCommand, name="stats", description="How many members someone brought here"):
    member = lightbulb.user("member", "Whose invites (you if empty)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, service: InviteService) -> None:
        """Show a member's invite counts in this server."""
        db = await _settled_db(lease, service)
        target = self.member.id if self.member is not None else ctx.user.id
        await ctx.respond(embed=stats_embed(await inv.fetch_inviter_stats(db, int(target))), ephemeral=True)


@invites.register
class InvitesLeaderboard(lightbulb.SlashCommand, name="leaderboard", description="This server's top inviters"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, service: InviteService) -> None:
        """Inviters by score (stayed + bonus), ten a page."""
        db = await _settled_db(lease, service)
        lines = leaderboard_lines(await inv.list_leaderboard(db))
        await respond_paginated(ctx, "Invite leaderboard", lines, ephemeral=True)


def settings_embed(settings: inv.InviteSettings, unknown: int, *, lacks_permission: bool,
                   changed: bool) -> hikari.Embed:
    embed = hikari.Embed(title="Invite tracker settings saved" if changed else "Invite tracker settings",
                         description=NO_MANAGE_SERVER if lacks_permission else None)
    embed.add_field("Log channel", f"<#{settings.log_channel_id}>" if settings.log_channel_id else "none")
    embed.add_field("Fake threshold", f"accounts younger than {settings.fake_threshold_days} day(s)", inline=True)
    embed.add_field("Welcome message", settings.welcome_message or inv.DEFAULT_WELCOME)
    embed.add_field("Joins with an unknown invite", str(unknown), inline=True)
    return embed


@invites_admin.register
class InvitesSettings(lightbulb.SlashCommand, name="settings", description="Log channel, fake threshold, "
                      "welcome message (no option: show them)", hooks=[admin_only]):
    log_channel = lightbulb.channel("log-channel", "Where joins are announced with their inviter",
                                    channel_types=TEXT_CHANNELS, default=None)
    fake_days = lightbulb.integer("fake-threshold-days", "Accounts younger than this count as fake",
                                  min_value=inv.FAKE_DAYS_RANGE[0], max_value=inv.FAKE_DAYS_RANGE[1], default=None)
    welcome = lightbulb.string("welcome-message", "Template: {member}, {inviter}, {invites}",
                               min_length=1, max_length=inv.WELCOME_MAX, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, service: InviteService) -> None:
        """Change the settings given, then show them (with the Manage Server warning if it applies)."""
        db = await _settled_db(lease, service)
        channel_id = None
        if self.log_channel is not None:
            if self.log_channel.type not in TEXT_CHANNELS:
                raise InvalidInputError("The log channel must be a text channel.")
            channel_id = int(self.log_channel.id)
        changed = any(v is not None for v in (channel_id, self.fake_days, self.welcome))
        if changed:
            current = await inv.update_invite_settings(db, log_channel_id=channel_id,
                                                       fake_threshold_days=self.fake_days,
                                                       welcome_message=self.welcome)
        else:
            current = await inv.fetch_invite_settings(db)
        embed = settings_embed(current, await inv.count_unknown_joins(db),
                               lacks_permission=service.lacks_manage_server(db.guild_id), changed=changed)
        await ctx.respond(embed=embed, ephemeral=True)


@invites_admin.register
class InvitesBonus(lightbulb.SlashCommand, name="bonus", description="Add (or remove) bonus invites",
                   hooks=[admin_only]):
    member = lightbulb.user("member", "Who gets the bonus")
    amount = lightbulb.integer("amount", "Invites to add (negative to remove)", min_value=inv.BONUS_RANGE[0],
                               max_value=inv.BONUS_RANGE[1])

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Add bonus invites to a member's score in this server."""
        stats = await inv.add_bonus(db, int(self.member.id), self.amount)
        await ctx.respond(f"<@{stats.inviter_id}> now has {stats.score} {invites_word(stats.score)} "
                          f"({stats.bonus:+d} bonus).", ephemeral=True)


loader.command(invites)
loader.command(invites_admin)
