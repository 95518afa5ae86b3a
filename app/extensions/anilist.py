"""`/anilist link|unlink`: a member's AniList account, in this server only."""
from __future__ import annotations

import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.clock import Clock
from app.bot.di import CommandLease
from app.db import GuildDb
from app.extensions._unlocks import respond_with_unlocks
from app.features import anilist_link
from app.features.text import shown
from app.services.anilist import AniListClient

loader = lightbulb.Loader()

anilist = lightbulb.Group("anilist", "Your AniList account in this server", contexts=GUILD_CONTEXT)


@anilist.register
class AniListLink(lightbulb.SlashCommand, name="link", description="Link your AniList account in this server "
                  "(checks that it exists and is public)"):
    username = lightbulb.string("username", "Your AniList username", min_length=anilist_link.USERNAME_MIN,
                                max_length=anilist_link.USERNAME_MAX)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, client: AniListClient, clock: Clock) -> None:
        """Link after AniList confirms the account (the server's file opens only then)."""
        account = await anilist_link.find_account(client, self.username)
        db = await lease.open()
        link = await anilist_link.store_link(db, int(ctx.user.id), ctx.user.username, account)
        await respond_with_unlocks(ctx, db, f"Linked to the AniList account **{shown(link.anilist_name)}** in this "
                                            "server (other servers keep their own links).", clock)


@anilist.register
class AniListUnlink(lightbulb.SlashCommand, name="unlink", description="Unlink your AniList account in this "
                    "server"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Forget the link and the stats fetched through it."""
        link = await anilist_link.unlink_account(db, int(ctx.user.id))
        await ctx.respond(f"Unlinked the AniList account **{shown(link.anilist_name)}** in this server; your "
                          "reading progress here is kept.", ephemeral=True)


loader.command(anilist)
