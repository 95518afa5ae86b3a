"""Where each legacy table goes: the default mapping and the operator's `--map` overrides."""
from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from app.errors import InvalidInputError

RuleKind = Literal["guild", "home", "global", "skip"]
MAP_SYNTAX = "--map TABLE=guild:COLUMN|home|global|skip[,subjects=COL[+COL…]]"

GUILD_TABLES = ("invites", "invite_uses", "recruitment_stats", "user_leaves", "invite_tracker_settings")
HOME_TABLES = ("users", "user_manga_progress", "achievements", "cached_stats", "user_xp", "steam_users",
               "steam_games", "recommendations", "recommendation_feedback", "user_preferences",
               "challenges", "challenge_manga", "user_progress")
GLOBAL_TABLES = ("manga_cache", "bot_settings")
# tables of the destination files that legacy data must never be written into
RESERVED_TABLES = frozenset({"guild_meta", "bot_meta", "guild_registry", "deletion_receipts"})

_NAME = re.compile(r"^[^\x00]+\Z")  # any name SQLite allows: every identifier is quoted where used
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True, slots=True)
class Rule:
    """One table's destination: a guild by a column, the home guild, the bot-wide file, or nowhere."""

    kind: RuleKind
    column: str | None = None  # guild rules: the column that holds the guild id
    subjects: tuple[str, ...] = ()  # columns naming the member a row is about (tables the split creates)

    def __str__(self) -> str:
        base = f"guild:{self.column}" if self.kind == "guild" else self.kind
        return base + (f",subjects={'+'.join(self.subjects)}" if self.subjects else "")


DEFAULT_RULES: dict[str, Rule] = {
    **{name: Rule("guild", "guild_id") for name in GUILD_TABLES},
    **{name: Rule("home") for name in HOME_TABLES},
    **{name: Rule("global") for name in GLOBAL_TABLES},
}


def parse_map(text: str) -> tuple[str, Rule]:
    """Parse one `TABLE=guild:COLUMN|home|global|skip[,subjects=COL+COL]` option.

    Raises:
        InvalidInputError: the text does not follow that syntax.
    """
    table, sep, target = text.partition("=")
    table, target = table.strip(), target.strip()
    target, has_subjects, listed = target.partition(",subjects=")
    subjects = tuple(c.strip() for c in listed.replace(",", "+").split("+") if c.strip())
    bad = InvalidInputError(f"{text[:80]!r} is not a table mapping; write it as {MAP_SYNTAX}.")
    if not sep or not _NAME.match(table) or (has_subjects and not subjects):
        raise bad
    if target == "skip":
        return table, Rule("skip", subjects=subjects)
    if folded(table) in RESERVED_TABLES:
        raise InvalidInputError(f"Legacy table {table} cannot be written into the destination's own "
                                f"{table} table; map it with --map {table}=skip.")
    if target in ("home", "global"):
        return table, Rule(target, subjects=subjects)  # type: ignore[arg-type]
    kind, colon, column = target.partition(":")
    if kind != "guild" or not colon or not _NAME.match(column):
        raise bad
    return table, Rule("guild", column, subjects)


def parse_rule(text: str) -> Rule:
    """A rule as recorded in a split's manifest (`str(rule)`)."""
    return parse_map(f"t={text}")[1]


def merge_rules(overrides: Iterable[str]) -> dict[str, Rule]:
    """The default mapping with the operator's overrides applied (later ones win).

    Raises:
        InvalidInputError: an override does not follow the `--map` syntax.
    """
    rules = dict(DEFAULT_RULES)
    for text in overrides:
        table, rule = parse_map(text)
        rules.pop(find_name(rules, table) or table, None)  # `Users=…` overrides the known `users`
        rules[table] = rule
    return rules


def folded(name: str) -> str:
    """A name as SQLite compares table, column and collation names: ASCII letters in any case, the rest as is."""
    return name.translate(_ASCII_LOWER)


def find_name(names: Iterable[str] | Mapping[str, object], name: str) -> str | None:
    """The one of `names` that SQLite takes for `name` (`Users` for `users`), or None."""
    wanted = folded(name)
    return next((n for n in names if folded(n) == wanted), None)


PERSON_WORDS = ("user", "member", "owner", "author", "discord", "inviter", "joiner", "referr", "creator", "sender",
                "recipient")


def looks_like_person(column: str) -> bool:
    """Columns that may name a Discord member and so must be classified (data rights, the split's --map):
    `*_id` and `*_by` in any case, camelCase `*Id`/`*ID`/`*By`, one word ending in `id` that names a person
    (`userid`, `referrerid`), and the bare words; spaces around the name do not hide it."""
    raw = column.strip()
    name = raw.lower()
    if name.endswith(("_id", "_by")) or name in {"member", "user", "owner", "author"}:
        return True
    if raw[-3:-2].islower() and raw[-2:] in ("Id", "ID", "By"):  # referrerId, ownerID, createdBy
        return True
    return name.endswith("id") and any(word in name for word in PERSON_WORDS)


def quote_name(name: str) -> str:
    """An SQL identifier, quoted (names come from sqlite_master or the rule table)."""
    return '"' + name.replace('"', '""') + '"'
