"""Sandbox script lines → actions (format in ARCHITECTURE.md, "Sandbox script lines").

    <guild_id> <user_id> [admin] /<command> [<sub>...] [name:value ...]
    <guild_id> <user_id> click <button label or custom_id>
    <guild_id> <user_id> modal <field>:<value> ...
    <guild_id> <user_id> say <text>
    <guild_id> <user_id> join [invite:<code>] | leave
    <guild_id> bot join | bot leave

`#` starts a comment; values with spaces go in double quotes. `dm` in place of
the guild id sends the command from a direct message (to see it refused).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from app.db.ids import parse_guild_id
from app.errors import InvalidInputError

USAGE = """\
  <guild_id> <user_id> [admin] /<command> [<sub>...] [name:value ...]   run a slash command
  <guild_id> <user_id> click <button label or custom_id>                 press a button on your last reply
  <guild_id> <user_id> modal <field>:<value> ...                         submit the modal you were shown
  <guild_id> <user_id> say <text>                                        post a message in the server
  <guild_id> <user_id> join [invite:<code>] | leave                      a member arrives or leaves
  <guild_id> bot join | bot leave                                        add the bot to / remove it from a server
  (`dm` instead of a guild id: a direct message; values with spaces in "double quotes"; # comments)"""


class ScriptError(InvalidInputError):
    """A line that cannot be understood; the message says why."""


@dataclass(frozen=True, slots=True)
class Action:
    line: int
    kind: str  # command, click, modal, say, join, leave, bot_join, bot_leave
    guild_id: int | None
    user_id: int | None = None
    admin: bool = False
    command: str = ""
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as error:  # an unclosed quote
        raise ScriptError(f"cannot read the line: {error}") from None


def _pairs(words: list[str]) -> dict[str, str]:
    pairs = {}
    for word in words:
        name, sep, value = word.partition(":")
        if not sep or not name:
            raise ScriptError(f"expected name:value, got {word!r}")
        pairs[name] = value
    return pairs


def _user_id(word: str) -> int:
    if not word.isdigit() or not 0 < int(word) < 2**63:
        raise ScriptError(f"{word!r} is not a user id (a positive whole number)")
    return int(word)


def _guild(word: str) -> int | None:
    return None if word.lower() == "dm" else parse_guild_id(word)


def parse_line(text: str, line: int) -> Action | None:
    """One action, or None for a blank or comment line.

    Raises:
        ScriptError: the line is not in the sandbox format (or InvalidGuildIdError for a bad guild id).
    """
    words = _tokens(text)
    if not words:
        return None
    if len(words) < 3:
        raise ScriptError("too short: a line starts with <guild_id> <user_id> (or <guild_id> bot)")
    guild_id = _guild(words[0])
    if words[1] == "bot":
        if words[2:] not in (["join"], ["leave"]) or guild_id is None:
            raise ScriptError("expected `<guild_id> bot join` or `<guild_id> bot leave`")
        return Action(line, f"bot_{words[2]}", guild_id)
    user_id = _user_id(words[1])
    rest = words[2:]
    admin = rest[0] == "admin"
    if admin:
        rest = rest[1:]
    if not rest:
        raise ScriptError("nothing to do after the user id")
    verb, args = rest[0], rest[1:]
    if verb.startswith("/") and len(verb) > 1:
        path = [verb[1:], *(w for w in args if ":" not in w)]
        options = _pairs([w for w in args if ":" in w])
        return Action(line, "command", guild_id, user_id, admin, " ".join(path), options)
    if verb in ("click", "say") and args:
        return Action(line, verb, guild_id, user_id, admin, text=" ".join(args))
    if verb == "modal" and args:
        return Action(line, "modal", guild_id, user_id, admin, options=_pairs(args))
    if verb == "join" and len(args) <= 1:
        return Action(line, "join", guild_id, user_id, options=_pairs(args))
    if verb == "leave" and not args:
        return Action(line, "leave", guild_id, user_id)
    raise ScriptError(f"unknown action {verb!r}: expected /command, click, modal, say, join or leave")
