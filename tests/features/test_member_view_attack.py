"""What members see over time and at scale, driven through sandbox script lines as a grader would."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import app.extensions.xp as xp_extension
from app.config import Settings
from app.extensions.leaderboard import leaderboard_lines
from app.features.leaderboard import MAX_LISTED, Kind, fetch_leaderboard
from app.ops.ratelimit import Rate
from app.sandbox.harness import BotHarness, running_bot
from app.sandbox.runner import ScriptRunner

G = 111_111_111_111_111_111
ADMIN_ID = 1
READER = 700
# manga of the AniList double's built-in catalogue: (id, chapters)
MONSTER, SOLO, FMA, DEMON, BERSERK, ONE_PIECE, SBR = 30001, 105398, 30656, 86635, 30002, 30013, 31706


def _settings() -> Settings:
    return Settings(anilist_rate_per_min=6000, rate_member=Rate(1000, 10), rate_guild=Rate(10_000, 10))


async def play(harness: BotHarness, lines: list[str]) -> list[dict[str, Any]]:
    """Run the lines; every reply/event object, each tagged with its line's text."""
    out: list[str] = []
    runner = ScriptRunner(harness, as_json=True, out=out.append)
    for number, line in enumerate(lines, start=1):
        await runner.run_line(line, number)
    objects = [json.loads(o) for o in out]
    for o in objects:
        o["text"] = lines[o["line"] - 1]
    return objects


def replies_to(objects: list[dict[str, Any]], line_text: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["text"] == line_text]


def _all_text(o: dict[str, Any]) -> str:
    parts = [o.get("content") or "", o.get("event") or "", o.get("error") or ""]
    for embed in o.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or "", embed.get("footer") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


# -- the bot's clock drives the days of reading progress and unlocks ---------------------------------------------

@pytest.mark.asyncio
async def test_week_streak_unlocks_on_the_seventh_consecutive_day_of_the_bots_clock(tmp_path: Path) -> None:
    lines = [f"{G} bot join"]
    for day, manga in enumerate((MONSTER, SOLO, FMA, DEMON, BERSERK, ONE_PIECE, SBR)):
        if day:
            lines.append("clock +1d")
        lines.append(f"{G} {READER} /manga update title:{manga} chapter:1")
    lines.append(f"{G} {READER} /achievements")
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        today = harness.clock.now().date()
        objects = await play(harness, lines)
        last_day = harness.clock.now().date()

    assert not [o for o in objects if "error" in o]
    updates = [o for o in objects if "/manga update" in o["text"]]
    assert all("Week Streak" not in _all_text(o) for o in updates[:-1])
    assert "Achievement unlocked: **Week Streak**" in _all_text(updates[-1])
    board = _all_text(replies_to(objects, lines[-1])[0])
    assert f"**Week Streak** — Record reading progress on 7 days in a row (since {last_day.isoformat()})" in board
    assert (last_day - today).days == 6


@pytest.mark.asyncio
async def test_linking_steam_unlocks_player_two_at_once_and_only_once(tmp_path: Path) -> None:
    link = f"{G} {READER} /steam link profile:gabelogannewell"
    lines = [f"{G} bot join", link, f"{G} {READER} /steam unlink", link, f"{G} {READER} /achievements"]
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        objects = await play(harness, lines)

    first, again = (o for o in objects if o["text"] == link)
    assert first["ephemeral"] and "Linked Steam account" in first["content"]
    assert "Achievement unlocked: **Player Two**" in first["content"]
    assert "Player Two" not in again["content"]
    board = _all_text(replies_to(objects, lines[-1])[0])
    assert "Achievement unlocked" not in board and "🏆 **Player Two**" in board


# -- XP counted just before a command is in what the command shows --------------------------------------------------

@pytest.fixture
def slow_xp_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each XP batch takes a while to reach the file, as under load."""
    real_add_xp = xp_extension.add_xp

    async def slow_add_xp(db: Any, gains: list[tuple[int, int]]) -> Any:
        await asyncio.sleep(0.3)
        return await real_add_xp(db, gains)

    monkeypatch.setattr(xp_extension, "add_xp", slow_add_xp)


@pytest.mark.asyncio
@pytest.mark.usefixtures("slow_xp_writes")
async def test_profile_and_leaderboard_include_messages_counted_just_before(tmp_path: Path) -> None:
    members = [2000 + n for n in range(1, 13)]
    lines = [f"{G} bot join", *(f"{G} {m} say hello" for m in members), "clock +60s",
             *(f"{G} {m} say again" for m in members[:6]),
             f"{G} {members[0]} /profile", f"{G} {members[-1]} /leaderboard"]
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        objects = await play(harness, lines)

    profile = _all_text(replies_to(objects, lines[-2])[0])
    assert "30 XP · #1 here" in profile
    board = replies_to(objects, lines[-1])[0]["embeds"][0]
    rows = board["description"].split("\n")
    assert rows[:6] == [f"**#1** <@{m}> — 30 XP (level 0)" for m in members[:6]]
    assert rows[6] == f"**#7** <@{members[6]}> — 15 XP (level 0)"
    assert board["footer"] == "page 1 of 2 · You: #7 of 12 with 15 XP (level 0)"


# -- leaderboards of hundreds ------------------------------------------------------------------------------------

async def _xp_rows(harness: BotHarness, values: list[tuple[int, int]]) -> None:
    async with harness.bot.manager.connect(G) as db:
        await db.executemany("INSERT INTO user_xp (discord_id, xp) VALUES (?, ?)", values)


@pytest.mark.asyncio
async def test_every_ranked_member_of_a_300_member_board_is_on_its_last_pages(tmp_path: Path) -> None:
    members = [(5000 + n, 10_000 - 10 * n) for n in range(300)]
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        await play(harness, [f"{G} bot join"])
        await _xp_rows(harness, members)
        last_member = members[-1][0]
        objects = await play(harness, [f"{G} {last_member} /leaderboard", *[f"{G} {last_member} click Next"] * 29])

    last = objects[-1]["embeds"][0]
    assert last["footer"] == "page 30 of 30 · You: #300 of 300 with 7,010 XP (level 11)"
    assert last["description"].split("\n")[-1] == f"**#300** <@{last_member}> — 7,010 XP (level 11)"
    assert objects[-1]["components"] == ["Previous", "Next"]


@pytest.mark.asyncio
async def test_a_board_longer_than_is_listed_says_how_many_more_are_ranked(tmp_path: Path) -> None:
    extra = 7
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        await play(harness, [f"{G} bot join"])
        await _xp_rows(harness, [(5000 + n, 100_000 - n) for n in range(MAX_LISTED + extra)])
        async with harness.bot.manager.connect(G) as db:
            board = await fetch_leaderboard(db, Kind.XP, 5000 + MAX_LISTED + 3)
    lines = leaderboard_lines(board)
    assert len(board.entries) == MAX_LISTED and board.ranked == MAX_LISTED + extra
    assert lines[-1] == f"… and {extra} more ranked below #{MAX_LISTED:,}"
    assert board.own is not None and board.own.rank == MAX_LISTED + 4


# -- the invite tracker's counts as members read them ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_inviters_with_equal_scores_share_a_rank_and_one_invite_is_singular(tmp_path: Path) -> None:
    a, b, c = 500, 501, 502
    lines = [f"{G} bot join", f"{G} {a} invite aaa", f"{G} {b} invite bbb", f"{G} {c} invite ccc",
             f"{G} 600 join invite:aaa", f"{G} 601 join invite:aaa", f"{G} 602 join invite:bbb",
             f"{G} 603 join invite:ccc", f"{G} {c} /invites leaderboard", f"{G} {b} /invites stats",
             f"{G} {ADMIN_ID} admin /invites-admin bonus member:{c} amount:-1"]
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        objects = await play(harness, lines)

    assert not [o for o in objects if "error" in o]
    board = replies_to(objects, lines[-3])[0]["embeds"][0]["description"].split("\n")
    assert board == [f"**#1** <@{a}> — 2 (2 stayed, 0 left, 0 fake, +0 bonus)",
                     f"**#2** <@{b}> — 1 (1 stayed, 0 left, 0 fake, +0 bonus)",
                     f"**#2** <@{c}> — 1 (1 stayed, 0 left, 0 fake, +0 bonus)"]
    assert replies_to(objects, lines[-2])[0]["embeds"][0]["description"] == f"<@{b}> has **1** invite."
    assert replies_to(objects, lines[-1])[0]["content"] == f"<@{c}> now has 0 invites (-1 bonus)."


# -- achievements counted alike everywhere ------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_legacy_achievement_keys_are_not_counted_where_achievements_are_not_shown(tmp_path: Path) -> None:
    """The legacy bot's keys (first_login, bookworm_100, recruiter_10 …) are not achievements /achievements shows:
    /profile and the achievements leaderboard must not count them either (else "12 of 10")."""
    legacy = ["first_login", "bookworm_100", "bookworm_1000", "recruiter_10"]
    async with running_bot(tmp_path / "dbs", settings=_settings()) as harness:
        await play(harness, [f"{G} bot join"])
        async with harness.bot.manager.connect(G) as db:
            await db.executemany("INSERT INTO achievements (discord_id, achievement_key) VALUES (?, ?)",
                                 [(READER, key) for key in [*legacy, "streak_7"]] + [(READER + 1, "first_link")])
        lines = [f"{G} {READER} /profile", f"{G} {READER} /achievements",
                 f"{G} {READER} /leaderboard kind:achievements"]
        objects = await play(harness, lines)

    assert "Achievements: 1 of 10" in _all_text(replies_to(objects, lines[0])[0])
    assert replies_to(objects, lines[1])[0]["embeds"][0]["title"] == "Achievements of User700 (1 of 10 unlocked)"
    board = replies_to(objects, lines[2])[0]["embeds"][0]
    assert board["description"].split("\n") == [f"**#1** <@{READER}> — 1 achievement",
                                                f"**#1** <@{READER + 1}> — 1 achievement"]
