"""`/manga update|list|remove`: reading progress kept in this server's file (an AniList link is optional)."""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.clock import Clock
from app.bot.di import CommandLease
from app.bot.pages import respond_paginated
from app.db import GuildDb
from app.extensions._unlocks import respond_with_unlocks
from app.features import challenges, progress
from app.features.media import MediaLookup
from app.features.text import shown

loader = lightbulb.Loader()

manga = lightbulb.Group("manga", "Your reading progress in this server", contexts=GUILD_CONTEXT)

STATUS_CHOICES = [lightbulb.Choice(word, status) for status, word in progress.STATUS_WORDS.items()]


@lightbulb.di.with_di
async def title_choices(ctx: lightbulb.AutocompleteContext[str], media: MediaLookup = lightbulb.di.INJECTED) -> None:
    """Titles from AniList's search as the member types (the value sent is the AniList id)."""
    await ctx.respond(await media.suggest(str(ctx.focused.value or "")))


@manga.register
class MangaUpdate(lightbulb.SlashCommand, name="update", description="Record the last chapter you read"):
    title = lightbulb.string("title", "Manga title (pick a suggestion) or AniList id", min_length=1,
                             max_length=progress.TITLE_MAX, autocomplete=title_choices)
    chapter = lightbulb.integer("chapter", "Last chapter read", min_value=0, max_value=progress.MAX_CHAPTER)
    status = lightbulb.string("status", "Reading status", choices=STATUS_CHOICES, default=None)
    score = lightbulb.integer("score", "Your score, 0 to 100", min_value=0, max_value=progress.MAX_SCORE,
                              default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, media: MediaLookup, clock: Clock) -> None:
        """Look the manga up (cached), check the chapter against its count, record it here (and in challenges)."""
        status = progress.parse_status(self.status)  # the value or the word its choices show
        progress.check_values(self.chapter, status, self.score)
        found = await media.resolve(self.title)  # AniList may take seconds: the server's file is not open yet
        db = await lease.open()
        now = clock.now()
        entry = await progress.record_chapter(db, found, int(ctx.user.id), ctx.user.username, self.chapter,
                                              status=status, score=self.score, now=now)
        await challenges.record_progress(db, int(ctx.user.id), entry, now)
        await respond_with_unlocks(ctx, db, f"Recorded in this server: {progress.describe(entry)}.", clock)


@manga.register
class MangaList(lightbulb.SlashCommand, name="list", description="Manga a member recorded in this server"):
    member = lightbulb.user("member", "Whose list (default: yours)", default=None)
    status = lightbulb.string("status", "Only this status", choices=STATUS_CHOICES, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Ten a page, newest first."""
        who: hikari.User = self.member or ctx.user
        entries = await progress.list_entries(db, int(who.id), self.status)
        lines = [progress.describe(e) for e in entries]
        if not lines:
            lines = [f"{shown(who.username)} has no manga recorded in this server yet (/manga update)."]
        await respond_paginated(ctx, f"{who.username}'s manga in this server ({len(entries)})", lines,
                                ephemeral=True)


@manga.register
class MangaRemove(lightbulb.SlashCommand, name="remove", description="Remove a manga from your progress here"):
    title = lightbulb.string("title", "Title (or part of it) as in /manga list, or AniList id", min_length=1,
                             max_length=progress.TITLE_MAX)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Remove the one entry the title names."""
        entry = await progress.remove_entry(db, int(ctx.user.id), self.title)
        await ctx.respond(f"Removed **{shown(entry.title)}** from your manga in this server.", ephemeral=True)


loader.command(manga)
