"""`/profile [member:]`: AniList link, level and XP, chapters, achievements and Steam link in this server."""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.deferral import Deferral
from app.bot.names import display_name, plain
from app.db import GuildDb
from app.errors import InvalidInputError
from app.extensions.xp import XpService
from app.features.profile import Profile, fetch_profile, progress_bar

loader = lightbulb.Loader()
BOTS_HAVE_NONE = "Bots have no profile here; pick a member."


def profile_embed(name: str, profile: Profile) -> hikari.Embed:
    embed = hikari.Embed(title=f"Profile of {name}"[:256])
    if profile.anilist_name is not None:
        shown = plain(profile.anilist_name)
        link = f"[{shown}](https://anilist.co/user/{shown})" if shown.isalnum() and shown.isascii() else shown
        embed.add_field("AniList", link, inline=True)
    else:
        embed.add_field("AniList", "not linked (/anilist link)", inline=True)
    xp = profile.xp
    rank = f" · #{profile.xp_rank} here" if profile.xp_rank else ""
    embed.add_field(f"Level {xp.level}", f"{xp.xp:,} XP{rank}\n{progress_bar(xp.into_level, xp.level_span)} "
                                         f"{xp.to_next:,} XP to level {xp.level + 1}", inline=True)
    embed.add_field("Chapters read", f"{profile.chapters_read:,}", inline=True)
    embed.add_field("Achievements", f"{profile.achievements_unlocked} of {profile.achievements_total}", inline=True)
    if profile.steam_name is not None:
        embed.add_field("Steam", plain(profile.steam_name), inline=True)
    return embed


@loader.command
class ProfileCommand(lightbulb.SlashCommand, name="profile", description="A member's profile in this server",
                     contexts=GUILD_CONTEXT):
    deferral = Deferral.PUBLIC
    member = lightbulb.user("member", "Whose profile (default: yours)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, xp: XpService) -> None:
        """Show the profile kept in this server's file (with the messages already counted written)."""
        target = self.member or ctx.user
        if target.is_bot:
            raise InvalidInputError(BOTS_HAVE_NONE)
        await xp.settled(db.guild_id)  # the writer shares this open file: holding it does not hold the writer back
        profile = await fetch_profile(db, int(target.id))
        await ctx.respond(embed=profile_embed(display_name(target), profile))
