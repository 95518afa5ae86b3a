"""Run sandbox lines (interactive, a script file, or the demo) against the double and the real bot."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from app.config import Settings
from app.doubles import DoubleError
from app.doubles.anilist import AniListDouble
from app.doubles.anilist_catalogue import Catalogue
from app.doubles.discord_permissions import parse_permission
from app.doubles.steam import SteamCatalogue
from app.errors import UserFacingError
from app.extensions._invite_service import InviteService
from app.extensions.xp import XpService
from app.sandbox.harness import BotHarness, running_bot
from app.sandbox.render import action_text, choices_object, error_object, event_object, reply_object, reply_text
from app.sandbox.script import USAGE, Action, parse_line

Emit = Callable[[dict[str, Any]], None]
S = TypeVar("S")
log = logging.getLogger(__name__)
JOIN_RECORD_WAIT_S = 10.0  # a join line waits at most this for the invite tracker to record it
XP_RECORD_WAIT_S = 5.0  # a say line waits at most this for its XP to be written and its level-up posted
MAX_PACE_WAIT_S = 10.0  # an autocomplete line waits at most this for the bot's AniList pace (longer: a 429's ban)
LAST_YEAR = 9000  # the clock stops short of datetime's 9999, leaving room for the dates the bot computes ahead


class ScriptRunner:
    """Turns lines into actions on the harness and emits one object per reply (or event, or error)."""

    def __init__(self, harness: BotHarness, *, as_json: bool, out: Callable[[str], None] = print) -> None:
        self.harness = harness
        self.as_json = as_json
        self._out = out
        self.errors = 0

    def emit(self, obj: dict[str, Any], *, autocomplete: bool = False) -> None:
        if self.as_json:
            self._out(json.dumps(obj, ensure_ascii=False))
        elif "error" in obj:
            self._out(f"  ✗ line {obj['line']}: {obj['error']}")
        elif "event" in obj:
            self._out(f"  ✓ {obj['event']}")
        elif autocomplete:
            self._out("  ↳ choices: " + (" | ".join(obj["choices"]) or "(none)"))
        else:
            self._out(reply_text(obj))

    def say(self, text: str) -> None:
        """Narration for people (never in --json output)."""
        if not self.as_json:
            self._out(text)

    async def run_line(self, text: str, line: int) -> None:
        if _word(text) == "help":  # the line forms, in a script as at the prompt
            self.emit({"line": line, "guild_id": None, "user_id": None, "event": USAGE})
            return
        try:
            action = parse_line(text, line)
        except UserFacingError as error:
            self.errors += 1
            self.emit(error_object(line, error.user_message))
            return
        if action is None:
            return
        self.say(action_text(action))
        try:
            await self.perform(action)
        except (DoubleError, UserFacingError, TimeoutError) as error:
            self.errors += 1
            message = getattr(error, "user_message", None) or str(error) or "the bot did not answer in time"
            self.emit(error_object(line, message))
        except Exception as error:  # a line the double cannot play (a bug): said, and the script goes on
            log.debug("sandbox line %d failed", line, exc_info=True)  # LOG_LEVEL=DEBUG shows where
            self.errors += 1
            self.emit(error_object(line, f"unexpected {type(error).__name__}: {error}"))

    async def perform(self, action: Action) -> None:
        h = self.harness
        if action.kind == "clock":
            posted = len(h.double.channel_posts)
            delta = timedelta(seconds=action.seconds)
            if h.clock.now().year + delta.days // 365 + 1 >= LAST_YEAR:  # dates overflow at 9999: the bot stops
                raise DoubleError(f"the clock cannot move past the year {LAST_YEAR}")
            await h.advance(delta)
            self.emit(event_object(action, f"the clock moved forward {_duration(action.seconds)}; "
                                           f"it is now {h.clock.now():%Y-%m-%d %H:%M} UTC"))
            self._posts_since(action, posted)  # what fell due was announced (a challenge's winners)
            return
        self._check_bot_is_in(action)
        if action.kind in ("bot_join", "bot_leave", "say", "join", "leave", "invite", "role"):
            posted = len(h.double.channel_posts)
            self.emit(event_object(action, await self._world(action)))
            self._posts_since(action, posted)  # a level-up the message earned
            return
        guild_id, user_id = action.guild_id, action.user_id or 0
        if action.kind == "autocomplete":
            # A suggestion never waits for AniList's pace (a member is typing); a script's lines come faster than
            # anyone types, so each plays once the bot could ask AniList: its choices do not depend on the timing.
            await asyncio.sleep(min(h.bot.anilist.free_in(), MAX_PACE_WAIT_S))
            choices = await h.autocomplete(guild_id, user_id, action.command, action.text, action.options[action.text],
                                           {k: v for k, v in action.options.items() if k != action.text})
            self.emit(choices_object(action, choices), autocomplete=True)
            return
        if action.kind == "command":
            record = await h.send(guild_id, user_id, action.command, action.options, admin=action.admin)
        elif action.kind == "click":
            record = await h.press(guild_id, user_id, action.text, admin=action.admin)
        elif action.kind == "select":
            record = await h.choose(guild_id, user_id, action.text, list(action.values), admin=action.admin)
        else:
            record = await h.submit(guild_id, user_id, action.options, admin=action.admin)
        await h.answer(record)
        for reply in await h.settle(record):
            self.emit(reply_object(action, reply))

    def _posts_since(self, action: Action, posted: int) -> None:
        """Emit what the bot posted in channels on its own since there were `posted` posts."""
        for post in self.harness.double.channel_posts[posted:]:
            self.emit(event_object(action, f"the bot posted in channel {post.channel_id}: {post.content}"))

    def _check_bot_is_in(self, action: Action) -> None:
        """Raises:
            DoubleError: a line for a server the bot has not joined (except `bot join`).
        """
        if action.guild_id is None or action.kind == "bot_join":
            return
        guild = self.harness.double.guilds.get(action.guild_id)
        if guild is None or not guild.bot_present:
            raise DoubleError(f"The bot is not in server {action.guild_id}: add it first with "
                              f"`{action.guild_id} bot join`.")

    async def _world(self, action: Action) -> str:
        h, guild_id, user_id = self.harness, action.guild_id, action.user_id or 0
        if guild_id is None:
            raise DoubleError(f"a {action.kind.replace('_', ' ')} line is for a server, not direct messages "
                              "(`dm` is for slash commands)")
        if action.kind == "bot_join":
            await h.add_bot_to_guild(guild_id)
            await _recorded_joins(h, guild_id)  # its invite counts read: a join on the next line is attributed
            return f"the bot was added to server {guild_id}"
        if action.kind == "bot_leave":
            await h.remove_bot_from_guild(guild_id)
            return f"the bot was removed from server {guild_id} (its file is kept for the retention period)"
        if action.kind == "say":
            xp = await _service(h, XpService)
            heard = xp.heard if xp is not None else 0
            await h.say(guild_id, user_id, action.text)
            if xp is not None:
                await _recorded_xp(xp, guild_id, heard)
            return f"user {user_id} posted a message"
        if action.kind == "join":
            await h.member_join(guild_id, user_id, invite=action.options.get("invite"))
            await _recorded_joins(h, guild_id)
            return f"user {user_id} joined server {guild_id}"
        if action.kind == "invite":
            seen = await h.create_invite(guild_id, user_id, action.text,
                                         max_uses=int(action.options.get("max_uses", "0")))
            told = "" if seen else " (the bot was not told: it lacks Manage Channels there)"
            return f"user {user_id} created invite {action.text}{told}"
        if action.kind == "role":
            bits = [parse_permission(name) for name in action.values]
            await h.give_role(guild_id, user_id, *bits)
            return f"user {user_id} was given a role with {', '.join(action.values)}"
        await h.member_leave(guild_id, user_id)
        return f"user {user_id} left server {guild_id}"


async def _recorded_joins(h: BotHarness, guild_id: int) -> None:
    """Until the invite tracker has recorded the joins it has seen (or, after `bot join`, read the invite counts):
    a script's joins come milliseconds apart, which the tracker takes for a raid (nobody can say whose invite each
    used), and a join before the counts were read cannot be attributed; members arrive slower."""
    service = await _service(h, InviteService)
    if service is not None:
        await service.tracker.settled(guild_id, within_s=JOIN_RECORD_WAIT_S)


async def _service(h: BotHarness, kind: type[S]) -> S | None:
    """The bot's service of `kind`, made now if nothing made it yet (the first `say` waits as the others do);
    None for a bot without the extension that provides it."""
    container = h.bot.client.di.default_container
    if container is None or kind not in container:
        return None
    return await container.get(kind)


async def _recorded_xp(service: XpService, guild_id: int, heard: int) -> None:
    """Until the XP the message earned is written and its level-up announced: the next line sees both."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + XP_RECORD_WAIT_S
    while service.heard <= heard and loop.time() < deadline:  # the bot's listener got it (counted or not)
        await asyncio.sleep(0.001)
    await service.settled(guild_id, within_s=XP_RECORD_WAIT_S)
    await service.announced()


def _word(text: str) -> str:
    """A line as one bare word (`help`, `quit`): any case, spaces and a byte order mark around it."""
    return text.lstrip("\ufeff").strip().lower()


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _stdin_lines() -> asyncio.Queue[str]:
    """Lines of stdin ('' at the end) from a daemon thread: Ctrl-C never waits for a pending read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        while True:
            text = sys.stdin.readline()
            loop.call_soon_threadsafe(queue.put_nowait, text)
            if not text:
                return

    threading.Thread(target=read, name="sandbox-stdin", daemon=True).start()
    return queue


async def _lines_from_stdin(runner: ScriptRunner) -> None:
    interactive = sys.stdin.isatty()
    if interactive:
        print("guildshelf sandbox: a local Discord double and the real bot. Type `help`, or `quit` to leave.")
    lines = _stdin_lines()
    number = 0
    while True:
        if interactive:
            print("> ", end="", flush=True)
        text = await lines.get()
        if not text:
            return
        number += 1
        if _word(text) in ("quit", "exit"):
            return
        if _word(text) == "help":
            print(USAGE)
            continue
        await runner.run_line(text, number)


async def run_sandbox(settings: Settings, *, script: list[str] | None, demo: bool, as_json: bool,
                      dbs: Path | None, steam: Path | None = None, anilist: Path | None = None) -> int:
    """The `sandbox` command: returns the exit code (1 if any line of a script failed).

    The AniList and Steam doubles always answer (their built-in catalogues, or the files given):
    the sandbox never calls the real AniList or Steam.
    """
    steam_catalogue = SteamCatalogue.load(steam) if steam is not None else SteamCatalogue.builtin()
    catalogue = Catalogue.load(anilist) if anilist is not None else Catalogue.builtin()
    settings = dataclasses.replace(settings, steam_api_url=Settings().steam_api_url, steam_api_key=None)
    with tempfile.TemporaryDirectory(prefix="guildshelf-sandbox-") as scratch:
        root = dbs if dbs is not None else Path(scratch) / "guild_dbs"
        async with AniListDouble(catalogue) as anilist_double, \
                running_bot(root, settings=dataclasses.replace(settings, anilist_url=anilist_double.url),
                            steam=steam_catalogue) as harness:
            runner = ScriptRunner(harness, as_json=as_json)
            if demo:
                from app.sandbox.demo import run_demo

                await run_demo(runner, keep=dbs is not None)
            elif script is not None:
                for number, text in enumerate(script, start=1):
                    await runner.run_line(text, number)
            else:
                await _lines_from_stdin(runner)
    return 1 if runner.errors and script is not None else 0  # the demo's refusals are on purpose
