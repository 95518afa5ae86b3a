"""The one error handler: a domain error becomes one ephemeral sentence, anything else a reference id."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

import hikari
import lightbulb

from app.errors import UserFacingError

log = logging.getLogger("app.bot.errors")


def reference_id() -> str:
    """Eight hex digits the user quotes and the operator greps for in the log."""
    return secrets.token_hex(4)


def internal_error_message(ref: str) -> str:
    return f"Something went wrong on our side (ref `{ref}`)."


def find_user_error(errors: Iterable[BaseException]) -> UserFacingError | None:
    """The first UserFacingError among the errors or their `__cause__` chains (DI wraps a factory's error)."""
    for error in errors:
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            if isinstance(current, UserFacingError):
                return current
            seen.add(id(current))
            current = current.__cause__
    return None


async def _respond(ctx: lightbulb.Context, text: str) -> None:
    try:
        await ctx.respond(text, ephemeral=True)
    except hikari.HikariError:
        log.warning("could not send the error reply for /%s in guild %s",
                    ctx.command_data.qualified_name, ctx.guild_id, exc_info=True)


async def handle_command_error(exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
    """Registered with `client.error_handler`; always handles (nothing reaches lightbulb's default log)."""
    ctx = exc.context
    user_error = find_user_error(exc.causes)
    if user_error is not None:
        await _respond(ctx, user_error.user_message)
        return True
    ref = reference_id()
    cause = exc.causes[0] if exc.causes else exc
    log.error("command /%s failed in guild %s for user %s (ref %s)", ctx.command_data.qualified_name,
              ctx.guild_id, ctx.user.id, ref, exc_info=(type(cause), cause, cause.__traceback__), extra={"ref": ref})
    await _respond(ctx, internal_error_message(ref))
    return True


async def log_listener_error(event: hikari.ExceptionEvent[hikari.Event]) -> None:
    """A listener failed: log it with a reference; a listener never takes the bot down."""
    ref = reference_id()
    guild_id = getattr(event.failed_event, "guild_id", None)
    log.error("listener %s for %s failed in guild %s (ref %s)", getattr(event.failed_callback, "__name__", "?"),
              type(event.failed_event).__name__, guild_id, ref, exc_info=event.exc_info)
