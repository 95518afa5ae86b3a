"""Application command registration as Discord validates it (interactions/application-commands.mdx).

A bulk overwrite is all or nothing: one bad command fails the whole PUT with 50035, nothing is stored.
"""
from __future__ import annotations

from typing import Any

from app.doubles.discord_errors import FormErrors, check_form, max_items, max_length

CHAT_INPUT = 1
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
NUMBERS = (4, 10)  # integer, number
STRING_MAX = 6000  # a string option's min_length/max_length bound
COMMAND_TOTAL = 4000  # names, descriptions and choice values of a command and all its options
MAX_COMMANDS = 100  # chat input commands per scope (global, or one guild)


def _size(node: dict[str, Any]) -> int:
    """What counts toward a command's 4000 characters: every name, description and choice name and value."""
    total = len(str(node.get("name") or "")) + len(str(node.get("description") or ""))
    total += sum(len(str(c.get("name") or "")) + len(str(c.get("value") or "")) for c in node.get("choices") or [])
    return total + sum(_size(o) for o in node.get("options") or [])


def _valid_name(name: str, *, chat_input: bool) -> bool:
    """`^[-_\\p{L}\\p{N}]{1,32}$`, lowercase where a letter has a lowercase form (chat input only)."""
    if not 1 <= len(name) <= 32:
        return False
    if not chat_input:  # user and message commands: any 1–32 characters
        return True
    return all(c.isalnum() or c in "-_" for c in name) and name == name.lower()


def _check_name(errors: FormErrors, at: tuple[str | int, ...], name: object, *, chat_input: bool) -> None:
    if not isinstance(name, str) or not _valid_name(name, chat_input=chat_input):
        errors.append(((*at, "name"), "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}"))


def _check_lengths(errors: FormErrors, here: tuple[str | int, ...], option: dict[str, Any]) -> None:
    """A string option's min_length 0–6000 and max_length 1–6000."""
    for key, least in (("min_length", 0), ("max_length", 1)):
        length = option.get(key)
        if length is not None and not least <= int(length) <= STRING_MAX:
            errors.append(((*here, key), "NUMBER_TYPE_MAX" if int(length) > STRING_MAX else "NUMBER_TYPE_MIN",
                           f"{key} must be between {least} and {STRING_MAX}"))


def _check_options(errors: FormErrors, at: tuple[str | int, ...], options: list[dict[str, Any]]) -> None:
    max_items(errors, (*at, "options"), options, 25)
    optional_seen = False
    for i, option in enumerate(options):
        here = (*at, "options", i)
        _check_name(errors, here, option.get("name"), chat_input=True)
        max_length(errors, (*here, "description"), option.get("description") or "", 100, minimum=1)
        kind = option.get("type")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            _check_options(errors, here, list(option.get("options") or []))
            continue
        if option.get("required"):
            if optional_seen:
                errors.append((here, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                               "Required options must be placed before non-required options"))
        else:
            optional_seen = True
        choices = option.get("choices") or []
        max_items(errors, (*here, "choices"), choices, 25)
        for j, choice in enumerate(choices):
            max_length(errors, (*here, "choices", j, "name"), choice.get("name") or "", 100, minimum=1)
            if isinstance(choice.get("value"), str):
                max_length(errors, (*here, "choices", j, "value"), choice["value"], 100)
        _check_lengths(errors, here, option)
        low, high = option.get("min_value"), option.get("max_value")
        if kind in NUMBERS and low is not None and high is not None and low > high:
            errors.append(((*here, "min_value"), "NUMBER_TYPE_MIN",
                           "min_value must be less than or equal to max_value"))
        if choices and option.get("autocomplete"):
            errors.append(((*here, "autocomplete"), "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                           "Autocomplete cannot be set with choices"))


def check_commands(commands: list[dict[str, Any]]) -> None:
    """Validate a bulk overwrite.

    Raises:
        RestError: 50035 with the paths of every invalid name, description, option, size or count.
    """
    errors: FormErrors = []
    if sum(int(c.get("type") or CHAT_INPUT) == CHAT_INPUT for c in commands) > MAX_COMMANDS:
        errors.append(((), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_COMMANDS} or fewer in length."))
    names: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        kind = int(command.get("type") or CHAT_INPUT)
        _check_name(errors, (i,), command.get("name"), chat_input=kind == CHAT_INPUT)
        if kind == CHAT_INPUT:
            max_length(errors, (i, "description"), command.get("description") or "", 100, minimum=1)
            _check_options(errors, (i,), list(command.get("options") or []))
            if _size(command) > COMMAND_TOTAL:
                errors.append(((i,), "APPLICATION_COMMAND_TOO_LARGE",
                               f"Command exceeds maximum size ({COMMAND_TOTAL})"))
        key = (kind, str(command.get("name")))
        if key in names:
            errors.append(((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME",
                           "Application command names must be unique"))
        names.add(key)
    check_form(errors)
