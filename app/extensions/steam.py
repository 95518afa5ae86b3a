"""`/steam link|unlink|games`: a member's Steam account in this server, and their most played games."""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.checks import GUILD_CONTEXT
from app.bot.clock import Clock
from app.bot.names import plain
from app.bot.provide import Provide
from app.config import Settings
from app.db import GuildDb
from app.extensions._unlocks import respond_with_unlocks
from app.features import steam as st
from app.services.steam import OwnedGame, SteamClient

loader = lightbulb.Loader()


def _steam_client(settings: Settings, clock: Clock) -> SteamClient:
    return SteamClient(settings.steam_api_key, settings.steam_api_url, now=clock.now)


loader.add(Provide(SteamClient, _steam_client))

steam = lightbulb.Group("steam", "Your Steam account and games", contexts=GUILD_CONTEXT)


def games_embed(link: st.SteamLink, games: list[OwnedGame]) -> hikari.Embed:
    lines = [f"**{n}.** {plain(g.name, 100)} — {st.hours(g.playtime_minutes)}" for n, g in enumerate(games, start=1)]
    return hikari.Embed(title="Most played on Steam",
                        description=f"<@{link.discord_id}>\n" + ("\n".join(lines) or "No games on this account."))


@steam.register
class SteamLinkCommand(lightbulb.SlashCommand, name="link", description="Link your Steam account in this server"):
    profile = lightbulb.string("profile", "SteamID64, profile URL or custom URL name", min_length=2,
                               max_length=200)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, client: SteamClient, clock: Clock) -> None:
        """Resolve the profile through Steam and link it (Player Two unlocks here)."""
        summary = await st.link_steam(db, client, int(ctx.user.id), self.profile)
        note = "" if summary.public else " Its game details are private, so /steam games cannot show them."
        await respond_with_unlocks(ctx, db, f"Linked Steam account **{plain(summary.personaname)}** "
                                            f"({summary.steamid}).{note}", clock)


@steam.register
class SteamUnlink(lightbulb.SlashCommand, name="unlink", description="Remove your Steam link in this server"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb) -> None:
        """Forget the member's Steam account and games here."""
        removed = await st.unlink_steam(db, int(ctx.user.id))
        await ctx.respond("Your Steam link in this server is removed." if removed
                          else "You have no Steam account linked in this server.", ephemeral=True)


@steam.register
class SteamGames(lightbulb.SlashCommand, name="games", description="Most played Steam games of a member"):
    member = lightbulb.user("member", "Whose games (you if empty)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, client: SteamClient) -> None:
        """Top games by playtime."""
        target = int(self.member.id if self.member is not None else ctx.user.id)
        link, games = await st.top_games(db, client, target)
        await ctx.respond(embed=games_embed(link, games), ephemeral=True)


loader.command(steam)
