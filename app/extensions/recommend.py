"""`/recommend`: manga suggestions from this server's readers and AniList, each with 👍/👎 buttons.

The buttons are handled by a listener rather than a timed menu, so a press works after a restart; it
opens the database of the server the press happened in, so a suggestion id means that server's row only.
"""
from __future__ import annotations

import logging

import hikari
import lightbulb
from cachetools import TTLCache

from app.bot.checks import GUILD_CONTEXT
from app.bot.di import CommandLease, EventGuildDb
from app.bot.provide import Provide
from app.errors import ServiceProtocolError, ServiceUnavailableError, UserFacingError
from app.features import recommend as rec
from app.features.media import MEDIA_TTL_S
from app.services.anilist import AniListClient
from app.services.anilist_models import ListEntry, Media

loader = lightbulb.Loader()
log = logging.getLogger(__name__)
PREFIX = "recommend"
VOTES = {"up": 1, "down": -1}
NOTHING = ("Nothing to suggest yet: record what you read with /manga update, or link AniList with /anilist link "
           "(finished manga bring AniList's suggestions; manga other readers here also read bring theirs).")


class AniListRecommendations:
    """AniList's recommendations per manga (public data), cached in memory like media; none while AniList is down."""

    def __init__(self, client: AniListClient) -> None:
        self._client = client
        self._cache: TTLCache[int, list[Media]] = TTLCache(1024, MEDIA_TTL_S)

    async def __call__(self, media_id: int) -> list[Media]:
        if media_id not in self._cache:
            try:
                self._cache[media_id] = await self._client.fetch_recommendations(media_id)
            except ServiceUnavailableError as error:  # this server's readers still have their say
                log.info("AniList recommendations for %s skipped: %s", media_id, error)
                return []
        return self._cache[media_id]


class AniListLists:
    """A linked account's manga list, read at each /recommend (it changes as the member reads); [] when the
    account is private or gone now, AniList is down, or its answer cannot be read: the other sources still count."""

    def __init__(self, client: AniListClient) -> None:
        self._client = client

    async def __call__(self, anilist_id: int) -> list[ListEntry]:
        try:
            return await self._client.fetch_manga_list(anilist_id) or []
        except ServiceUnavailableError as error:
            log.info("AniList list of %s skipped: %s", anilist_id, error)
            return []
        except ServiceProtocolError as error:  # an answer off the reference: one source fewer, not a failed command
            log.warning("AniList list of %s skipped: %s", anilist_id, error)
            return []


loader.add(Provide(AniListRecommendations, AniListRecommendations))
loader.add(Provide(AniListLists, AniListLists))


def buttons(bot: hikari.GatewayBot, suggestions: list[rec.Suggestion]) -> list[hikari.api.MessageActionRowBuilder]:
    rows = []
    for number, suggestion in enumerate(suggestions, start=1):
        row = bot.rest.build_message_action_row()
        for vote, emoji in (("up", "👍"), ("down", "👎")):
            row.add_interactive_button(hikari.ButtonStyle.SECONDARY, f"{PREFIX}:{suggestion.recommendation_id}:{vote}",
                                       label=f"{emoji} {number}")
        rows.append(row)
    return rows


@loader.command
class Recommend(lightbulb.SlashCommand, name="recommend", description="Manga you might like, with reasons",
                contexts=GUILD_CONTEXT):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lease: CommandLease, source: AniListRecommendations,
                     lists: AniListLists, bot: hikari.GatewayBot) -> None:
        """Up to five suggestions, one line of reason each; 👍/👎 shape the next ones."""
        found = await rec.recommend(lease.open, lease.release, source, int(ctx.user.id), lists)
        if not found:
            await ctx.respond(NOTHING, ephemeral=True)
            return
        embed = hikari.Embed(title="Manga you might like",
                             description="\n".join(s.line(n) for n, s in enumerate(found, start=1)))
        embed.set_footer("👍 or 👎 a number: later suggestions take it into account.")
        await ctx.respond(embed=embed, components=buttons(bot, found), ephemeral=True)


@loader.listener(hikari.ComponentInteractionCreateEvent)  # not every interaction: each costs an injection
async def on_vote(event: hikari.ComponentInteractionCreateEvent, guild_dbs: EventGuildDb) -> None:
    """A 👍/👎 press: recorded in the server it happened in, for the member who asked only."""
    press = event.interaction
    if not press.custom_id.startswith(f"{PREFIX}:"):
        return
    _, number, vote = [*press.custom_id.split(":"), "", ""][:3]
    if press.guild_id is None or not number.isdigit() or vote not in VOTES:
        return
    await press.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE,
                                        flags=hikari.MessageFlag.EPHEMERAL)
    try:
        async with guild_dbs.for_interaction(press) as db:
            await rec.record_vote(db, int(number), int(press.user.id), VOTES[vote])
    except UserFacingError as error:
        await press.edit_initial_response(error.user_message)
        return
    await press.edit_initial_response("Noted 👍: more like it from now on." if VOTES[vote] > 0 else
                                      "Noted 👎: it will not be suggested again.")
