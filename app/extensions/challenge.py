"""Reading challenges: `/challenge list|join|progress|leaderboard` (everyone), `/challenge-admin create|add-manga|end`.

Discord sets who sees a command per top-level command, so the admin subcommands are their own group.
Endings are announced by `ChallengeScheduler` (`_challenge_schedule.py`) on the bot's clock.
"""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.announce import announce
from app.bot.checks import ADMIN_DEFAULT, GUILD_CONTEXT, admin_only
from app.bot.clock import Clock
from app.bot.di import EventGuildDb
from app.bot.pages import respond_paginated
from app.bot.provide import Provide
from app.db import GuildDb
from app.extensions._challenge_schedule import ChallengeScheduler, winners_text
from app.extensions.manga import title_choices
from app.features import challenges as ch
from app.features.media import MediaLookup
from app.features.text import shown

loader = lightbulb.Loader()
CHOICE_NAME_MAX, MAX_CHOICES = 100, 25


def _scheduler(bot: hikari.GatewayBot, guild_dbs: EventGuildDb, clock: Clock) -> ChallengeScheduler:
    return ChallengeScheduler(bot, guild_dbs, clock)


loader.add(Provide(ChallengeScheduler, _scheduler, teardown=ChallengeScheduler.close))


@loader.listener(hikari.GuildAvailableEvent)
async def on_available(event: hikari.GuildAvailableEvent, scheduler: ChallengeScheduler) -> None:
    """Start-up or a restart: the server's file says when its next challenge ends."""
    await scheduler.watch(int(event.guild_id))


@loader.listener(hikari.GuildJoinEvent)
async def on_bot_added(event: hikari.GuildJoinEvent, scheduler: ChallengeScheduler) -> None:
    await scheduler.watch(int(event.guild_id))


@loader.listener(hikari.GuildLeaveEvent)
async def on_bot_removed(event: hikari.GuildLeaveEvent, scheduler: ChallengeScheduler) -> None:
    scheduler.forget(int(event.guild_id))


@lightbulb.di.with_di
async def challenge_choices(ctx: lightbulb.AutocompleteContext[str],
                            guild_dbs: EventGuildDb = lightbulb.di.INJECTED) -> None:
    """This server's challenges whose title contains what is typed (the value sent is the id)."""
    if ctx.interaction.guild_id is None:
        await ctx.respond([])
        return
    typed = str(ctx.focused.value or "").casefold()
    async with guild_dbs.for_interaction(ctx.interaction) as db:
        found = await ch.list_challenges(db)
    await ctx.respond([(_choice_name(c), str(c.id)) for c in found if typed in c.title.casefold()][:MAX_CHOICES])


def _choice_name(challenge: ch.Challenge) -> str:
    state = "" if challenge.active else " (ended)"
    return f"{challenge.title[:CHOICE_NAME_MAX - 10]}{state}"


def _window(challenge: ch.Challenge) -> str:
    end = challenge.end.isoformat() if challenge.end is not None else "no end set"
    return f"{challenge.start.isoformat()} → {end}"


def _challenge_option() -> str:
    return lightbulb.string("challenge", "Challenge (pick a suggestion)", min_length=1, max_length=ch.TITLE_MAX,
                            autocomplete=challenge_choices)


challenge = lightbulb.Group("challenge", "Reading challenges in this server", contexts=GUILD_CONTEXT)
challenge_admin = lightbulb.Group("challenge-admin", "Create and run reading challenges (admins)",
                                  contexts=GUILD_CONTEXT, default_member_permissions=ADMIN_DEFAULT)


@challenge_admin.register
class ChallengeCreate(lightbulb.SlashCommand, name="create", description="Create a reading challenge",
                      hooks=[admin_only]):
    title = lightbulb.string("title", "The challenge's name", min_length=1, max_length=ch.TITLE_MAX)
    start = lightbulb.string("start", "First day, YYYY-MM-DD (UTC)", min_length=10, max_length=10)
    end = lightbulb.string("end", "Last day, YYYY-MM-DD (UTC)", min_length=10, max_length=10)
    description = lightbulb.string("description", "What it is about", max_length=ch.DESCRIPTION_MAX, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, clock: Clock, scheduler: ChallengeScheduler) -> None:
        """Create it; its end is scheduled (announced here unless an announcement channel is set)."""
        made = await ch.create_challenge(db, title=self.title, description=self.description, start=self.start,
                                         end=self.end, created_by=int(ctx.user.id), now=clock.now())
        await ch.remember_channel(db, int(ctx.channel_id), int(ctx.user.id))
        scheduler.schedule(int(db.guild_id), await ch.next_end(db))
        await ctx.respond(f"Created **{shown(made.title)}** ({_window(made)}). Add manga with "
                          "/challenge-admin add-manga; members join with /challenge join.", ephemeral=True)


@challenge_admin.register
class ChallengeAddManga(lightbulb.SlashCommand, name="add-manga", description="Add a manga to a challenge",
                        hooks=[admin_only]):
    challenge = _challenge_option()
    title = lightbulb.string("title", "Manga title (pick a suggestion) or AniList id", min_length=1, max_length=200,
                             autocomplete=title_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, media: MediaLookup) -> None:
        """Look the manga up on AniList (cached) and add it."""
        chosen = await ch.resolve_challenge(db, self.challenge)
        found = await media.resolve(self.title)
        await ch.add_manga(db, chosen, found)
        await ctx.respond(f"Added **{shown(found.title)}** to **{shown(chosen.title)}**.", ephemeral=True)


@challenge_admin.register
class ChallengeEnd(lightbulb.SlashCommand, name="end", description="End a challenge now and announce the winners",
                   hooks=[admin_only]):
    challenge = _challenge_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, scheduler: ChallengeScheduler) -> None:
        """End it now (once); the winners are announced as at its scheduled end."""
        chosen = await ch.resolve_challenge(db, self.challenge)
        table = await ch.end_challenge(db, chosen.id)
        if table is None:
            await ctx.respond(f"**{shown(chosen.title)}** had already ended.", ephemeral=True)
            return
        scheduler.schedule(int(db.guild_id), await ch.next_end(db))
        channel_id = await ch.announcement_channel(db)
        text = winners_text(chosen, table)
        if channel_id is not None:
            await announce(ctx.client.rest, int(db.guild_id), channel_id, text)
        await ctx.respond(text, ephemeral=True)


@challenge.register
class ChallengeList(lightbulb.SlashCommand, name="list", description="This server's reading challenges"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Running and upcoming first, then ended ones."""
        lines = [f"**{shown(c.title)}** — {_window(c)}{'' if c.active else ' (ended)'}"
                 + (f"\n{shown(c.description, 200)}" if c.description else "") for c in await ch.list_challenges(db)]
        await respond_paginated(ctx, "Reading challenges", lines or ["No challenges here yet."], ephemeral=True)


@challenge.register
class ChallengeJoin(lightbulb.SlashCommand, name="join", description="Join a reading challenge"):
    challenge = _challenge_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, clock: Clock) -> None:
        """Chapters count from where you are now; /manga update records them."""
        chosen = await ch.resolve_challenge(db, self.challenge)
        await ch.join_challenge(db, chosen, int(ctx.user.id), clock.now())
        await ctx.respond(f"You joined **{shown(chosen.title)}** ({_window(chosen)}). Chapters you record with "
                          "/manga update from now on count.", ephemeral=True)


@challenge.register
class ChallengeProgress(lightbulb.SlashCommand, name="progress", description="A member's challenges and points"):
    member = lightbulb.user("member", "Whose progress (default: yours)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Points and rank in every challenge the member joined."""
        who: hikari.User = self.member or ctx.user
        lines = [f"**{shown(c.title)}**{'' if c.active else ' (ended)'}: {points:,} points, rank #{rank}"
                 for c, points, rank in await ch.member_challenges(db, int(who.id))]
        await respond_paginated(ctx, f"{who.username}'s challenges", lines or ["No challenges joined yet."],
                                ephemeral=True)


@challenge.register
class ChallengeLeaderboard(lightbulb.SlashCommand, name="leaderboard", description="A challenge's standings"):
    challenge = _challenge_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Points: a chapter read in the window is 1, a challenge manga finished in it 10."""
        chosen = await ch.resolve_challenge(db, self.challenge)
        table = await ch.standings(db, chosen.id)
        lines = [f"**#{n}** <@{s.user_id}> — {s.points:,} points" for n, s in enumerate(table, start=1)]
        await respond_paginated(ctx, f"{chosen.title} — standings", lines or ["Nobody has joined yet."],
                                ephemeral=True)


loader.command(challenge)
loader.command(challenge_admin)
