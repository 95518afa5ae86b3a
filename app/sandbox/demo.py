"""`python -m app sandbox --demo`: a short tour of three servers, their isolation, and their files."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from app.cli.output import human_bytes, table
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
READING = Step(
    "3. Members read, link AniList, climb the board",
    "Progress, links and achievements go into the file of the server the command runs in (the AniList double "
    "answers); the same member in another server starts from nothing.",
    (f"{MANGA_CLUB} {ALICE} /anilist link username:ShelfTester",
     f"{MANGA_CLUB} {ALICE} /manga update title:\"Berserk\" chapter:364",
     f"{MANGA_CLUB} {BORIS} /manga update title:\"ONE PIECE\" chapter:980",
     f"{SHONEN} {CHIDI} /manga update title:\"Kimetsu no Yaiba\" chapter:15",
     f"{MANGA_CLUB} {ALICE} /leaderboard kind:chapters",
     f"{SHONEN} {ALICE} /profile"))
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


def challenge_step(today: date) -> Step:
    """One reading challenge from creation to its announced winner (dates from the sandbox clock)."""
    end = (today + timedelta(days=6)).isoformat()
    return Step("6b. A reading challenge",
                "An admin creates a week-long challenge with Fullmetal Alchemist; Boris joins and finishes it "
                "(116 chapters + 10 for finishing); `clock +8d` passes its end and the bot announces the winner.",
                (f'{MANGA_CLUB} {ALICE} admin /challenge-admin create title:"Spring sprint" '
                 f"start:{today.isoformat()} end:{end}",
                 f"{MANGA_CLUB} {ALICE} admin /challenge-admin add-manga challenge:1 title:30656",
                 f"{MANGA_CLUB} {BORIS} /challenge join challenge:1",
                 f"{MANGA_CLUB} {BORIS} /manga update title:30656 chapter:116",
                 f"{MANGA_CLUB} {BORIS} /challenge leaderboard challenge:1",
                 "clock +8d"))


LEAVE = Step("8. The bot is removed from a server",
             "The leave is recorded (purge after RETENTION_DAYS unless the bot is added back); the file stays.",
             (f"{SEINEN} bot leave",))

async def _play(runner: ScriptRunner, step: Step, first_line: int) -> int:
    runner.say(f"\n━━ {step.title}\n   {step.explain}")
    for offset, text in enumerate(step.lines):
        await runner.run_line(text, first_line + offset)
    return first_line + len(step.lines)


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
    line = await _play(runner, READING, line)
    for step in STEPS_AFTER_DATA:
        line = await _play(runner, step, line)
    line = await _play(runner, challenge_step(runner.harness.clock.now().date()), line)
    runner.say("\n━━ 7. The files on disk: one per server, each naming its own server inside")
    runner.say(await asyncio.to_thread(_files_report, runner))
    line = await _play(runner, LEAVE, line)
    await asyncio.sleep(0.1)  # the leave is recorded by a listener, on the bot's own time
    runner.say("\n━━ 9. The bot-wide registry (guild_dbs/bot-wide.sqlite3)\n" + await _registry_report(runner))
    runner.say("\nDone. " + ("The files are kept in the folder above." if keep else
                             "The files were in a temporary folder and are removed now; "
                             "add --dbs DIR to keep them.")
               + "\nTry your own: python -m app sandbox   (type `help`)")
