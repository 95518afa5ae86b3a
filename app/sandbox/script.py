"""Sandbox script lines → actions (format in ARCHITECTURE.md, "Sandbox script lines").

    <guild_id> <user_id> [admin] /<command> [<sub>...] [name:value ...]
    <guild_id> <user_id> click <button label or custom_id>
    <guild_id> <user_id> modal <field>:<value> ...
    <guild_id> <user_id> say <text>
    <guild_id> <user_id> join [invite:<code>] | leave
    <guild_id> bot join | bot leave
    <guild_id> <user_id> autocomplete /<command> [<sub>] <option>:"<partial>"
    <guild_id> <user_id> select <placeholder or custom_id> <value>...
    <guild_id> <user_id> invite <code> [max_uses:N]
    <guild_id> <user_id> role <permission>...
    clock +<N>(s|m|h|d)

`#` starts a comment; values with spaces go in double quotes. `dm` in place of
the guild id sends the command from a direct message (to see it refused).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from app.db.ids import parse_guild_id
from app.doubles.discord_permissions import parse_permission
from app.errors import InvalidInputError

USAGE = """\
  <guild_id> <user_id> [admin] /<command> [<sub>...] [name:value ...]   run a slash command
  <guild_id> <user_id> click <button label or custom_id>                 press a button on your last reply
  <guild_id> <user_id> modal <field>:<value> ...                         submit the modal you were shown
  <guild_id> <user_id> say <text>                                        post a message in the server
  <guild_id> <user_id> join [invite:<code>] | leave                      a member arrives or leaves
  <guild_id> bot join | bot leave                                        add the bot to / remove it from a server
  <guild_id> <user_id> autocomplete /<command> [<sub>] <option>:"<partial>"  the choices offered while typing
  <guild_id> <user_id> select <placeholder or custom_id> <value>...      choose in a select menu on your last reply
  <guild_id> <user_id> invite <code> [max_uses:N]                        the member creates an invite
  <guild_id> <user_id> role <permission>...                              give the member a role with those
                                                                         permissions (e.g. manage_guild)
  clock +<N>(s|m|h|d)                                                    advance the clock; work that falls due runs
  (`dm` instead of a guild id: a direct message; values with spaces in "double quotes"; # comments)"""


class ScriptError(InvalidInputError):
    """A line that cannot be understood; the message says why."""


@dataclass(frozen=True, slots=True)
class Action:
    line: int
    kind: str  # command, click, modal, say, join, leave, bot_join, bot_leave, autocomplete, select, invite,
    # role, clock
    guild_id: int | None
    user_id: int | None = None
    admin: bool = False
    command: str = ""
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""
    values: tuple[str, ...] = ()  # select: the values chosen; role: the permission names
    seconds: float = 0.0  # clock: how far to advance


def _tokens(text: str) -> list[str]:
    """Words split on whitespace. Only double quotes group (inside them `\"` and `\\` are a quote and a
    backslash), so apostrophes and backslashes elsewhere are plain text; `#` starting a word begins a comment.
    """
    words: list[str] = []
    word: list[str] = []
    in_word = quoted = escaped = False
    for char in text.lstrip("\ufeff"):  # a UTF-8 byte order mark before the first line
        if escaped:
            word.append(char if char in '"\\' else "\\" + char)
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            else:
                word.append(char)
        elif char.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif char == "#" and not in_word:
            break
        else:
            in_word = True
            if char == '"':
                quoted = True
            else:
                word.append(char)
    if quoted:
        raise ScriptError("cannot read the line: a double quote is not closed")
    if in_word:
        words.append("".join(word))
    return words


def _pairs(words: list[str]) -> dict[str, str]:
    pairs = {}
    for word in words:
        name, sep, value = word.partition(":")
        if not sep or not name:
            raise ScriptError(f"expected name:value, got {word!r}")
        if name in pairs:
            raise ScriptError(f"{name!r} is given twice")
        pairs[name] = value
    return pairs


def _digits(word: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²' (which int() refuses) and other scripts' digits."""
    return word.isascii() and word.isdigit()


def _user_id(word: str) -> int:
    if not _digits(word) or not 0 < int(word) < 2**63:
        raise ScriptError(f"{word!r} is not a user id (a positive whole number)")
    return int(word)


def _guild(word: str) -> int | None:
    return None if word.lower() == "dm" else parse_guild_id(word)


CLOCK_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
MAX_CLOCK_SECONDS = 3650 * 86_400  # ten years a line: far more would overflow the clocks' dates
MAX_INVITE_USES = 100  # Discord's limit for an invite's max_uses (0: unlimited)


def _clock(words: list[str], line: int) -> Action:
    amount = words[1] if len(words) == 2 else ""
    unit = amount[-1:]
    if not (amount.startswith("+") and unit in CLOCK_UNITS and _digits(amount[1:-1])):
        raise ScriptError("expected `clock +<N>(s|m|h|d)`, e.g. `clock +2d`")
    seconds = int(amount[1:-1]) * CLOCK_UNITS[unit]
    if seconds > MAX_CLOCK_SECONDS:
        raise ScriptError("the clock moves at most 3650 days (ten years) a line")
    return Action(line, "clock", None, seconds=float(seconds))


def _member_action(line: int, guild_id: int | None, user_id: int, verb: str, args: list[str]) -> Action | None:
    """The member verbs added with the strict double: autocomplete, select, invite, role."""
    if verb == "autocomplete" and args and args[0].startswith("/") and len(args[0]) > 1:
        pairs = [w for w in args[1:] if ":" in w]
        if not pairs:
            raise ScriptError('expected the option being typed: autocomplete /<command> <option>:"<partial>"')
        path = [args[0][1:], *(w for w in args[1:] if ":" not in w)]
        options = _pairs(pairs)
        return Action(line, "autocomplete", guild_id, user_id, command=" ".join(path), options=options,
                      text=pairs[-1].partition(":")[0])
    if verb == "select" and len(args) >= 2:
        return Action(line, "select", guild_id, user_id, text=args[0], values=tuple(args[1:]))
    if verb == "invite" and 1 <= len(args) <= 2:
        options = _pairs(args[1:])
        uses = options.get("max_uses", "0")
        if not args[0] or set(options) - {"max_uses"} or not _digits(uses) or int(uses) > MAX_INVITE_USES:
            raise ScriptError(f"expected `invite <code> [max_uses:N]`, N from 0 (unlimited) to {MAX_INVITE_USES}")
        return Action(line, "invite", guild_id, user_id, text=args[0], options=options)
    if verb == "role" and args:
        for name in args:
            try:
                parse_permission(name)
            except ValueError as error:
                raise ScriptError(str(error)) from None
        return Action(line, "role", guild_id, user_id, values=tuple(args))
    return None


def parse_line(text: str, line: int) -> Action | None:
    """One action, or None for a blank or comment line.

    Raises:
        ScriptError: the line is not in the sandbox format (or InvalidGuildIdError for a bad guild id).
    """
    words = _tokens(text)
    if not words:
        return None
    if words[0] == "clock":
        return _clock(words, line)
    if len(words) < 3:
        raise ScriptError("too short: a line starts with <guild_id> <user_id> (or <guild_id> bot, or clock)")
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
        options = _pairs(args)
        if set(options) - {"invite"} or options.get("invite") == "":
            raise ScriptError("expected `join` or `join invite:<code>`")
        return Action(line, "join", guild_id, user_id, options=options)
    if verb == "leave" and not args:
        return Action(line, "leave", guild_id, user_id)
    found = _member_action(line, guild_id, user_id, verb, args)
    if found is None:
        raise ScriptError(f"unknown action {verb!r} (or its arguments): expected /command, click, modal, say, "
                          "join, leave, autocomplete, select, invite or role")
    return dataclasses.replace(found, admin=True) if admin else found
