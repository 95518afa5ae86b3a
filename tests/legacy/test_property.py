"""Property: every row of every mapped table appears exactly once, in exactly the right destination."""
from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db.ids import BOT_FILE_NAME, guild_id_from_path
from app.legacy import SplitOptions, split_legacy
from app.legacy.testing import LEGACY_SCHEMA
from tests.legacy.helpers import HOME

GUILD_POOL = [HOME, 1, 2**63 - 1, 555_000_000_000_000_001, "dm", -1, 0, "12a", 3.5]
EXTRA_RULES = ["guild:gid", "home", "global", "skip"]
TABLES = ("invites", "user_leaves", "users", "steam_games", "manga_cache", "bot_settings", "extra")
ints = st.integers(min_value=1, max_value=2**40)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)

invites = st.lists(st.tuples(st.sampled_from(GUILD_POOL), texts, st.none() | ints, st.integers(0, 9)), max_size=8)
leaves = st.lists(st.tuples(st.sampled_from(GUILD_POOL), ints, st.none() | ints | st.just("abc"),
                            st.none() | st.floats(0, 400)), max_size=8)
users = st.lists(st.tuples(ints, texts), max_size=6)
games = st.lists(st.tuples(ints, ints, texts), max_size=6)
manga = st.lists(st.tuples(ints, texts), max_size=4)
bot = st.lists(st.tuples(texts, st.none() | texts), max_size=3)
extra = st.lists(st.tuples(st.none() | st.sampled_from(GUILD_POOL), texts | ints), max_size=6)


def _build(path: Path, data: dict[str, list[tuple[Any, ...]]]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(LEGACY_SCHEMA.read_text(encoding="utf-8") + "CREATE TABLE extra (gid INTEGER, val);")
    sql = {"invites": "INSERT OR IGNORE INTO invites (guild_id, code, inviter_id, uses) VALUES (?,?,?,?)",
           "user_leaves": "INSERT INTO user_leaves (guild_id, user_id, inviter_id, days_in_server) VALUES (?,?,?,?)",
           "users": "INSERT OR IGNORE INTO users (discord_id, username) VALUES (?,?)",
           "steam_games": "INSERT OR IGNORE INTO steam_games (discord_id, app_id, name) VALUES (?,?,?)",
           "manga_cache": "INSERT OR IGNORE INTO manga_cache (manga_id, title_romaji) VALUES (?,?)",
           "bot_settings": "INSERT OR IGNORE INTO bot_settings VALUES (?,?)",
           "extra": "INSERT INTO extra VALUES (?,?)"}
    for table, rows in data.items():
        conn.executemany(sql[table], rows)
    conn.commit()
    conn.close()


def _read(path: Path, table: str, drop: str | None = None) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
            return []
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                if r[1] not in (drop, "_legacy_rowid", "_reason", "id")]
        return conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
    finally:
        conn.close()


def _columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] != "id"]
    finally:
        conn.close()


def _expected(legacy: Path, extra_rule: str) -> Counter[tuple[Any, ...]]:
    want: Counter[tuple[Any, ...]] = Counter()
    rules = {"invites": "guild:guild_id", "user_leaves": "guild:guild_id", "users": "home", "steam_games": "home",
             "manga_cache": "global", "bot_settings": "global", "extra": extra_rule}
    for table, rule in rules.items():
        column, cols = rule.partition(":")[2], _columns(legacy, table)
        for row in _read(legacy, table, drop="id"):
            record = dict(zip(cols, row, strict=True))
            if rule == "skip":
                continue
            if rule in ("home", "global"):
                want[(table, HOME if rule == "home" else "bot", *row)] += 1
                continue
            guild = record.pop(column)
            valid = type(guild) is int and 0 < guild < 2**63
            bad_type = table == "user_leaves" and isinstance(record["inviter_id"], str)
            if valid and not bad_type:
                want[(table, guild, *record.values())] += 1
            else:
                want[(table, "quarantine", *row)] += 1
    return want


def _actual(out: Path) -> Counter[tuple[Any, ...]]:
    got: Counter[tuple[Any, ...]] = Counter()
    for path in out.glob("*.sqlite3"):
        guild = guild_id_from_path(path)
        where = guild if guild is not None else "bot" if path.name == BOT_FILE_NAME else "quarantine"
        for table in TABLES:
            for row in _read(path, table, drop="id" if where == "quarantine" else None):
                got[(table, where, *row)] += 1
    return got


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invites=invites, leaves=leaves, users=users, games=games, manga=manga, bot=bot, extra=extra,
       extra_rule=st.sampled_from(EXTRA_RULES))
def test_every_row_lands_exactly_once_in_the_right_place(invites: list[Any], leaves: list[Any], users: list[Any],
                                                        games: list[Any], manga: list[Any], bot: list[Any],
                                                        extra: list[Any], extra_rule: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        legacy, out = Path(scratch) / "database.db", Path(scratch) / "guild_dbs"
        _build(legacy, {"invites": invites, "user_leaves": leaves, "users": users, "steam_games": games,
                        "manga_cache": manga, "bot_settings": bot, "extra": extra})
        report = split_legacy(SplitOptions(legacy, out, home_guild_id=HOME, maps=(f"extra={extra_rule}",)))
        assert all(c.read == c.written + c.quarantined + c.skipped for c in report.tables.values())
        assert _actual(out) == _expected(legacy, extra_rule)
