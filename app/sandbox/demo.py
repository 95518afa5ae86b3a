"""`python -m app sandbox --demo`: a short tour of three servers, their isolation, and their files."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.cli.output import human_bytes, table
from app.db import GuildDb
from app.db.fleet import list_guild_files, open_read_only
from app.db.registry import fetch_entry
from app.sandbox.runner import ScriptRunner

MANGA_CLUB, SHONEN, SEINEN = 710_000_000_000_000_001, 720_000_000_000_000_002, 730_000_000_000_000_003
NAMES = {MANGA_CLUB: "Manga Club", SHONEN: "Shonen Readers", SEINEN: "Seinen Corner"}
ALICE, BORIS, CHIDI, DANA = (810_000_000_000_000_001, 810_000_000_000_000_002, 810_000_000_000_000_003,
                             810_000_000_000_000_004)


@dataclass(frozen=True)
class Step:
    title: str
    explain: str
    lines: tuple[str, ...] = ()


STEPS_BEFORE_DATA = (
    Step("1. Three servers add the bot",
         "Each `bot join` is a GUILD_CREATE from the double; the bot records the server in its bot-wide registry.",
         (f"{MANGA_CLUB} bot join", f"{SHONEN} bot join", f"{SEINEN} bot join")),
    Step("2. Members arrive and talk",
         "Member and message events reach the bot like on Discord (message content is never requested).",
         (f"{MANGA_CLUB} {BORIS} join invite:club2024", f"{MANGA_CLUB} {BORIS} say \"hello, manga people\"",
          f"{SHONEN} {CHIDI} join")),
)
STEPS_AFTER_DATA = (
    Step("4. Each admin asks what the bot holds for their server",
         "/server info reads only the file of the server it runs in: the row counts differ per server.",
         (f"{MANGA_CLUB} {ALICE} admin /server info", f"{SHONEN} {CHIDI} admin /server info",
          f"{SEINEN} {DANA} admin /server info")),
    Step("5. Guardrails",
         "A member without Manage Server is refused; a command sent from a DM is refused; typos get a sentence.",
         (f"{MANGA_CLUB} {BORIS} /server info", f"dm {BORIS} /server info", f"{MANGA_CLUB} {BORIS} /sever info")),
    Step("6. Who brought whom",
         "Boris joined by the owner's invite club2024: its use count rose, so the invite tracker credited the owner.",
         (f"{MANGA_CLUB} {BORIS} /invites stats member:{MANGA_CLUB + 1}", f"{SHONEN} {CHIDI} /invites leaderboard")),
)
LEAVE = Step("8. The bot is removed from a server",
             "The leave is recorded (purge after RETENTION_DAYS unless the bot is added back); the file stays.",
             (f"{SEINEN} bot leave",))

SAMPLE_READING = {
    MANGA_CLUB: [(ALICE, "alice", [(30002, "Berserk", 364), (30013, "One Piece", 1100), (31706, "JoJo", 120)]),
                 (BORIS, "boris", [(30013, "One Piece", 980), (87216, "Frieren", 120)])],
    SHONEN: [(CHIDI, "chidi", [(30013, "One Piece", 15)])],
    SEINEN: [],
}


async def _play(runner: ScriptRunner, step: Step, first_line: int) -> int:
    runner.say(f"\n━━ {step.title}\n   {step.explain}")
    for offset, text in enumerate(step.lines):
        await runner.run_line(text, first_line + offset)
    return first_line + len(step.lines)


async def _seed(db: GuildDb, readers: list[tuple[int, str, list[tuple[int, str, int]]]]) -> int:
    rows = 0
    async with db.transaction():
        for user_id, name, progress in readers:
            await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)", (user_id, name))
            await db.executemany(
                "INSERT INTO user_manga_progress (discord_id, manga_id, title, chapters_read, status) "
                "VALUES (?, ?, ?, ?, 'CURRENT')", [(user_id, m, t, c) for m, t, c in progress])
            rows += 1 + len(progress)
    return rows


async def _seed_all(runner: ScriptRunner) -> None:
    runner.say("\n━━ 3. Sample reading data, one file per server\n"
               "   Feature commands (progress, XP, challenges) arrive in later releases; until then the tour\n"
               "   writes sample rows straight into each server's own file, as the legacy split would.")
    manager = runner.harness.bot.manager
    for guild_id, readers in SAMPLE_READING.items():
        async with manager.connect(guild_id) as db:
            rows = await _seed(db, readers)
        runner.say(f"  ✓ {NAMES[guild_id]}: {rows} row(s) written to {manager.path_for(guild_id).name}")


def _files_report(runner: ScriptRunner) -> str:
    root = runner.harness.settings.guild_dbs_dir
    rows = []
    for found in list_guild_files(root):
        with open_read_only(found.path) as conn:
            owner = conn.execute("SELECT guild_id FROM guild_meta").fetchone()[0]
        rows.append((found.path.name, human_bytes(found.size_bytes), owner, NAMES.get(found.guild_id, "?")))
    listing = table(("file", "size", "guild_meta.guild_id", "server"), rows)
    return f"   in {root}:\n" + "\n".join(f"   {line}" for line in listing.splitlines())


async def _registry_report(runner: ScriptRunner) -> str:
    lines = []
    async with runner.harness.bot.manager.connect_bot() as bot_db:
        for guild_id, name in NAMES.items():
            entry = await fetch_entry(bot_db, guild_id)
            state = ("not recorded" if entry is None else f"left {entry.left_at}, purge after {entry.purge_after}"
                     if entry.left_at else f"joined {entry.joined_at}")
            lines.append(f"   {name} ({guild_id}): {state}")
    return "\n".join(lines)


async def run_demo(runner: ScriptRunner, *, keep: bool) -> None:
    """Play the tour; narration goes to people only, replies follow the --json contract."""
    double = runner.harness.double
    for guild_id, name in NAMES.items():
        double.ensure_guild(guild_id, name)
        double.ensure_member(guild_id, guild_id + 1, name="owner")
    runner.say(f"guildshelf demo: the real bot (hikari + lightbulb) is connected to a local Discord double at "
               f"{double.rest_url}.\nEvery server gets its own SQLite file; watch the counts differ.")
    line = 1
    for step in STEPS_BEFORE_DATA:
        line = await _play(runner, step, line)
    await _seed_all(runner)
    for step in STEPS_AFTER_DATA:
        line = await _play(runner, step, line)
    runner.say("\n━━ 7. The files on disk: one per server, each naming its own server inside")
    runner.say(await asyncio.to_thread(_files_report, runner))
    line = await _play(runner, LEAVE, line)
    await asyncio.sleep(0.1)  # the leave is recorded by a listener, on the bot's own time
    runner.say("\n━━ 9. The bot-wide registry (guild_dbs/bot-wide.sqlite3)\n" + await _registry_report(runner))
    runner.say("\nDone. " + ("The files are kept in the folder above." if keep else
                             "The files were in a temporary folder and are removed now; "
                             "add --dbs DIR to keep them.")
               + "\nTry your own: python -m app sandbox   (type `help`)")
