"""Legacy databases for tests and the benchmark, shaped like the old bot's (synthetic data).

One home guild holds every user-level row; the invite tracker spans all guilds.
`quirks` adds what years of a real file hold: non-snowflake guild ids, a guild
known only from a leave, orphans, awkward unicode, and an undocumented table.
"""
from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.db.schema import own_tables

LEGACY_SCHEMA = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "legacy_schema.sql"
HOME_GUILD = 897814031346319382
_NAMES = ["aki", "Ren", "zoë", "Łukasz", "名無し", "🌸sakura🌸", "o'brien", "Robert'); DROP TABLE users;--"]
_STATUSES = ["CURRENT", "COMPLETED", "PAUSED", "DROPPED", "PLANNING"]


def snowflake(rng: random.Random) -> int:
    return rng.randrange(150_000_000_000_000_000, 1_300_000_000_000_000_000)


def _user_tables(db: sqlite3.Connection, rng: random.Random, user_ids: list[int], manga: list[int]) -> None:
    ins = db.executemany
    ins("INSERT INTO users VALUES (?,?,?,?,?,?)",
        [(u, rng.choice(_NAMES) + str(i), None, rng.randint(1, 9_000_000), "2024-01-01 10:00:00", None)
         for i, u in enumerate(user_ids)])
    ins("INSERT INTO user_manga_progress VALUES (?,?,?,?,?,?,?,?)",
        [(u, m, f"Manga {m}", rng.randint(0, 900), 0, rng.choice(_STATUSES), rng.choice([None, 7.5]),
          "2025-02-03 04:05:06") for u in user_ids for m in rng.sample(manga, min(len(manga), rng.randint(0, 39)))])
    ins("INSERT INTO achievements (discord_id, achievement_key, tier) VALUES (?,?,?)",
        [(u, k, 1) for u in user_ids for k in rng.sample(["first", "bookworm", "streak", "steam"], rng.randint(0, 4))])
    ins("INSERT INTO cached_stats (discord_id, total_manga, top_genres) VALUES (?,?,?)",
        [(u, rng.randint(0, 400), '["Action"]') for u in user_ids if rng.random() < 0.8])
    ins("INSERT INTO user_xp VALUES (?,?,?,?)", [(u, rng.randint(0, 50_000), 3, None) for u in user_ids
                                                if rng.random() < 0.9])
    steam = [u for u in user_ids if rng.random() < 0.2]
    ins("INSERT INTO steam_users (discord_id, steam_id) VALUES (?,?)", [(u, str(7656119 + u % 10**9)) for u in steam])
    ins("INSERT INTO steam_games VALUES (?,?,?,?)",
        [(u, a, f"Game {a}", rng.randint(0, 9999)) for u in steam for a in rng.sample(range(10, 99_999, 10), 30)])
    ins("INSERT INTO recommendations (discord_id, manga_id, reason) VALUES (?,?,?)",
        [(u, rng.choice(manga), "similar genres") for u in user_ids for _ in range(rng.randint(0, 3))])
    rec_ids = [r[0] for r in db.execute("SELECT id FROM recommendations")]
    ins("INSERT OR IGNORE INTO recommendation_feedback VALUES (?,?,?)",
        [(r, rng.choice(user_ids), rng.choice([1, -1])) for r in rec_ids if rng.random() < 0.5])
    ins("INSERT INTO user_preferences VALUES (?,?,?,?)", [(u, "#ff66aa", 0, 1) for u in user_ids if rng.random() < 0.5])
    n_chal = max(3, len(user_ids) // 40)
    ins("INSERT INTO challenges (title, created_by, is_active) VALUES (?,?,?)",
        [(f"Challenge #{i}", rng.choice(user_ids), 1) for i in range(n_chal)])
    chal_manga = {c: rng.sample(manga, 5) for c in range(1, n_chal + 1)}
    ins("INSERT INTO challenge_manga VALUES (?,?,?,?,?)",
        [(c, m, None, 100, 1) for c, ms in chal_manga.items() for m in ms])
    ins("INSERT INTO user_progress (discord_id, challenge_id, manga_id, chapters_read, status) VALUES (?,?,?,?,?)",
        [(u, c, m, rng.randint(0, 300), "CURRENT") for u in user_ids
         for c in rng.sample(range(1, n_chal + 1), min(n_chal, rng.randint(0, 2))) for m in chal_manga[c]])


def _guild_tables(db: sqlite3.Connection, rng: random.Random, guild_ids: list[int], home: int) -> None:
    for guild_id in guild_ids:
        size = 40 if guild_id == home else 5
        members = [snowflake(rng) for _ in range(rng.randint(size, size * 20))]
        codes = [f"{guild_id % 100000:05d}{i:03d}" for i in range(rng.randint(1, 12))]
        owner = {c: rng.choice(members) for c in codes}
        db.executemany("INSERT INTO invites (guild_id, code, inviter_id, uses) VALUES (?,?,?,?)",
                       [(guild_id, c, owner[c], rng.randint(0, 200)) for c in codes])
        uses = [(guild_id, c, owner[c], m, int(rng.random() < 0.05)) for m in members for c in [rng.choice(codes)]]
        db.executemany("INSERT INTO invite_uses (guild_id, invite_code, inviter_id, joiner_id, is_fake) "
                       "VALUES (?,?,?,?,?)", uses)
        db.executemany("INSERT INTO user_leaves (guild_id, user_id, inviter_id, days_in_server) VALUES (?,?,?,?)",
                       [(guild_id, u[3], u[2], 1.5) for u in uses if rng.random() < 0.2])
        db.executemany("INSERT INTO recruitment_stats (guild_id, inviter_id, total_invites) VALUES (?,?,?)",
                       [(guild_id, inviter, 1) for inviter in set(owner.values())])
        if guild_id == home or rng.random() < 0.7:
            db.execute("INSERT INTO invite_tracker_settings (guild_id, welcome_message) VALUES (?, ?)",
                       (guild_id, "Welcome {user}!"))


def _quirks(db: sqlite3.Connection, rng: random.Random, guild_ids: list[int], user_ids: list[int]) -> None:
    db.executemany("INSERT INTO invite_uses (guild_id, joiner_id) VALUES (?,?)",
                   [("dm", snowflake(rng)), (-5, snowflake(rng)), (0, snowflake(rng))])
    db.execute("INSERT INTO user_leaves (guild_id, user_id) VALUES (?,?)", (snowflake(rng), user_ids[0]))
    db.execute("DELETE FROM challenges WHERE challenge_id = 1")
    db.execute("INSERT INTO user_manga_progress (discord_id, manga_id, title) VALUES (?,?,?)",
               (123456789012345678, 30_000, "Orphan"))
    db.execute("UPDATE users SET username = ? WHERE rowid = (SELECT MAX(rowid) FROM users)",
               ("line1\nline2\t\"quoted\" 🌸 \\ %_",))
    db.execute("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", (user_ids[0] + 1, "lots"))  # breaks STRICT
    db.execute("CREATE TABLE giveaway_entries (guild_id INTEGER, user_id INTEGER, prize TEXT)")
    db.executemany("INSERT INTO giveaway_entries VALUES (?,?,?)",
                   [(rng.choice(guild_ids), rng.choice(user_ids), "Nitro") for _ in range(25)])


def build_legacy_db(path: Path, *, users: int = 200, guilds: int = 10, seed: int = 1,
                    home_guild: int = HOME_GUILD, quirks: bool = False) -> dict[str, int]:
    """Write a legacy database at `path`; returns the row count of every table."""
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    try:
        db.executescript(LEGACY_SCHEMA.read_text(encoding="utf-8"))
        guild_ids = [home_guild] + [snowflake(rng) for _ in range(guilds - 1)]
        user_ids = [snowflake(rng) for _ in range(users)]
        manga = list(range(30_000, 30_000 + max(200, users // 4)))
        _user_tables(db, rng, user_ids, manga)
        db.executemany("INSERT INTO manga_cache (manga_id, title_romaji, genres) VALUES (?,?,?)",
                       [(m, f"Manga {m}", '["Action"]') for m in manga])
        db.executemany("INSERT INTO bot_settings VALUES (?,?)", [("prefix", "!"), ("default_guild", str(home_guild))])
        _guild_tables(db, rng, guild_ids, home_guild)
        if quirks:
            _quirks(db, rng, guild_ids, user_ids)
        db.commit()
        return {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in own_tables(db)}  # noqa: S608
    finally:
        db.close()


_LEAVE_IN_WAL = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute(sys.argv[2])
db.commit()
os._exit(0)  # no close: the write stays in the -wal, as a live bot's last writes would
"""


def write_and_leave_in_wal(path: Path, statement: str) -> None:
    """Run one write on `path` in WAL mode from a process that exits without checkpointing."""
    subprocess.run([sys.executable, "-c", _LEAVE_IN_WAL, str(path), statement], check=True)
