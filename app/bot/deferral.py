"""Discord drops an interaction not answered within 3 s: a command slower than `DEFER_AFTER_S` defers first.

A quick command answers in one REST call (the message itself). One that is still working after
`DEFER_AFTER_S` (a file opening slowly, AniList or Steam late) acknowledges the interaction ("thinking…")
then, and its answer completes that message: two calls, only when needed. Deferring every command
before its work made two REST calls of every interaction, a third of the bot's event loop under load
(`docs/benchmarks.md`).

The timer is armed after the checks (which answer at once when they refuse) and before the command's
dependencies are injected, so a `GuildDb` opening slowly is covered. The command's first answer is
private unless the command says otherwise with a class attribute, as its deferral would be:

    class Board(lightbulb.SlashCommand, name="board", description="..."):
        deferral = Deferral.PUBLIC    # answered (or deferred) publicly; an ephemeral answer (an error) stays private
    class Ask(lightbulb.SlashCommand, name="ask", description="..."):
        deferral = Deferral.NONE      # answers with a modal at once (a modal cannot follow a deferral)

The bot's `Client` builds this module's `Context` for every command; its `respond` disarms the timer, and
so does the client's `stop`. A command that returns without answering is a bug the member must not pay for
with silence, or a "thinking…" that never ends: `answer_the_silent` fails it, and the error handler answers
with its reference sentence.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any

import hikari
import lightbulb
from lightbulb.client import DEFAULT_EXECUTION_STEP_ORDER
from lightbulb.localization import localization_unsupported

from app.bot.clock import Clock, Timer
from app.errors import CommandUnansweredError

log = logging.getLogger(__name__)

# Discord's deadline is 3 s from the interaction's creation: 1 s leaves 2 s for the deferral's own call
# under load. Commands that finish sooner (almost all) answer in one call.
DEFER_AFTER_S = 1.0
DISCORD_EPOCH_MS = 1_420_070_400_000  # 2015-01-01T00:00:00Z
PRIVATE_ANSWER = "The answer was sent privately."  # a public "thinking…" Discord would not let the bot delete


class Deferral(enum.Enum):
    EPHEMERAL = "ephemeral"  # the default: the bot's answers are private
    PUBLIC = "public"
    NONE = "none"


class Context(lightbulb.Context):
    """A command's context that defers only if its first answer has not been sent `DEFER_AFTER_S` after arming."""

    __slots__ = ("__weakref__", "_answering", "_deferral", "_placeholder", "_timer")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferral: Deferral | None = None  # set when armed: a check's refusal before that is answered as is
        self._timer: Timer | None = None
        self._answering = False  # an answer is on its way: the timer has nothing left to do
        self._placeholder = False  # a public "thinking…" of our timer that no answer has filled yet

    def defer_unless_answered(self, mode: Deferral, clock: Clock, after_s: float) -> None:
        """Defer (`mode`) once `after_s` pass on `clock` without a first answer (not once the bot is stopping)."""
        self._deferral = mode
        if not (isinstance(self.client, Client) and self.client.stopping):
            self._timer = clock.call_later(after_s, self._defer_if_unanswered)

    async def _defer_if_unanswered(self) -> None:
        self._timer = None
        public = self._deferral is Deferral.PUBLIC
        try:
            async with self._response_lock:
                if self._answering or self.initial_response_sent.is_set():
                    return
                await self._create_initial_response(
                    hikari.ResponseType.DEFERRED_MESSAGE_CREATE,
                    flags=hikari.MessageFlag.NONE if public else hikari.MessageFlag.EPHEMERAL)
                self.initial_response_sent.set()
                self._placeholder = public
        except hikari.HikariError:  # the answer will fail the same way and is reported there
            log.warning("could not defer /%s in guild %s", self.command_data.qualified_name, self.guild_id,
                        exc_info=True)

    @property
    def answered(self) -> bool:
        """Whether the command has sent (or begun sending) its answer or a modal; a deferral is no answer."""
        return self._answering

    def disarm(self) -> None:
        """No deferral from now on (the command answered, deferred itself, or the bot is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def defer(self, *, ephemeral: bool = False) -> None:
        self.disarm()
        await super().defer(ephemeral=ephemeral)

    async def respond(self, content: hikari.UndefinedOr[Any] = hikari.UNDEFINED, *, ephemeral: bool = False,
                      **kwargs: Any) -> hikari.Snowflakeish:
        """The first answer of a private command is private, as its deferral would have made it.

        A private answer (an error) to a public command deferred by the timer does not fill its public
        "thinking…" (Discord would show it to everyone): that message goes first (`_clear_placeholder`).
        """
        self.disarm()
        self._answering = True  # from here on a deferral that has not begun never will
        if self._deferral is Deferral.EPHEMERAL and not self.initial_response_sent.is_set():
            ephemeral = True
        elif self._deferral is Deferral.PUBLIC:
            async with self._response_lock:  # a deferral being sent right now has set `_placeholder` after it
                if self._placeholder:
                    self._placeholder = False
                    if ephemeral or hikari.MessageFlag.EPHEMERAL in hikari.MessageFlag(kwargs.get("flags") or 0):
                        await self._clear_placeholder()
        return await super().respond(content, ephemeral=ephemeral, **kwargs)

    async def _clear_placeholder(self) -> None:
        """Delete the public "thinking…" (gone already is as good); if Discord refuses, say where the answer went.

        Either way the next answer is a message of its own, not the placeholder filled in.
        """
        try:
            await self.interaction.delete_initial_response()
        except hikari.NotFoundError:  # a moderator deleted it
            pass
        except hikari.HikariError:
            log.warning("could not delete the deferral of /%s in guild %s", self.command_data.qualified_name,
                        self.guild_id, exc_info=True)
            await self.interaction.edit_initial_response(PRIVATE_ANSWER)

    async def respond_with_modal(self, *args: Any, **kwargs: Any) -> None:
        self.disarm()
        self._answering = True
        await super().respond_with_modal(*args, **kwargs)


class Client(lightbulb.GatewayEnabledClient):
    """lightbulb's gateway client (as `client_from_app` builds it) whose commands get this module's `Context`."""

    def __init__(self, app: hikari.GatewayBot, *, hooks: Sequence[lightbulb.ExecutionHook],
                 sync_commands: bool) -> None:
        super().__init__(app, (), DEFAULT_EXECUTION_STEP_ORDER, hikari.Locale.EN_US, localization_unsupported,
                         True, None, hooks, sync_commands, features=())
        self._contexts: weakref.WeakSet[Context] = weakref.WeakSet()  # commands in flight, for stop()
        self.stopping = False

    def build_command_context(self, interaction: hikari.CommandInteraction,
                              options: Sequence[hikari.CommandInteractionOption],
                              command_cls: type[lightbulb.commands.CommandBase],
                              initial_response_sent: asyncio.Event) -> lightbulb.Context:
        context = Context(client=self, interaction=interaction, options=options, command=command_cls(),
                          initial_response_sent=initial_response_sent)
        self._contexts.add(context)
        return context

    async def stop(self, *args: Any) -> None:
        """A stopping bot defers nothing more: its REST client closes next."""
        self.stopping = True
        for context in list(self._contexts):
            context.disarm()
        await super().stop(*args)


def _created_s(snowflake: int) -> float:
    """When Discord created `snowflake`, in Unix seconds (its top 42 bits: milliseconds since 2015)."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def defer_when_slow(clock: Clock, after_s: float = DEFER_AFTER_S) -> lightbulb.ExecutionHook:
    """The hook arming every command's deferral timer (`Deferral.NONE`: none).

    `after_s` counts from the interaction's creation (its id's timestamp, real time), not from the hook: an
    interaction that waited in a busy loop's backlog for `after_s` already is deferred at once.
    """

    @lightbulb.hook(lightbulb.ExecutionSteps.PRE_INVOKE, skip_when_failed=True, name="defer_when_slow")
    async def arm(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
        mode = getattr(ctx.command, "deferral", Deferral.EPHEMERAL)
        if mode is Deferral.NONE:
            return
        waited = time.time() - _created_s(ctx.interaction.id)
        left = after_s - min(max(waited, 0.0), after_s)  # a clock behind Discord's counts as no wait
        if left > 0 and isinstance(ctx, Context):
            ctx.defer_unless_answered(mode, clock, left)
        else:  # late already (or a context another client built): defer now
            await ctx.defer(ephemeral=mode is Deferral.EPHEMERAL)

    return arm


@lightbulb.hook(lightbulb.ExecutionSteps.POST_INVOKE, skip_when_failed=True, name="answer_the_silent")
def answer_the_silent(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    """A command that returned without answering fails, so that the error handler answers for it.

    Raises:
        CommandUnansweredError: the command sent neither an answer nor a modal.
    """
    if isinstance(ctx, Context) and not ctx.answered:
        ctx.disarm()
        raise CommandUnansweredError(f"/{ctx.command_data.qualified_name} returned without answering")
