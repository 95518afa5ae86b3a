"""Achievements: each rule, the facts read from a server's file, unlocks recorded once, and /achievements."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest

from app.bot.announce import announce_unlocks
from app.db import GuildDatabaseManager, GuildDb
from app.features.achievements import (
    BY_KEY,
    RULES,
    MemberFacts,
    check_achievements,
    fetch_member_facts,
    format_unlocks,
    list_achievement_status,
    streak_from,
)
from app.features.guild_settings import update_guild_settings
from app.sandbox.harness import BotHarness
from tests.e2e import ADMIN, GUILD_A, GUILD_B, MEMBER

RIVAL = 900_000_000_000_000_055

# -- each rule ------------------------------------------------------------------

RULE_CASES = [  # key, facts just short of the goal, facts meeting it
    ("first_link", MemberFacts(), MemberFacts(anilist_linked=True)),
    ("chapters_100", MemberFacts(chapters_read=99), MemberFacts(chapters_read=100)),
    ("chapters_1000", MemberFacts(chapters_read=999), MemberFacts(chapters_read=1000)),
    ("chapters_10000", MemberFacts(chapters_read=9999), MemberFacts(chapters_read=10_000)),
    ("first_finish", MemberFacts(), MemberFacts(completed=1)),
    ("completionist", MemberFacts(completed=9), MemberFacts(completed=10)),
    ("streak_7", MemberFacts(streak_days=6), MemberFacts(streak_days=7)),
    ("challenge_winner", MemberFacts(), MemberFacts(challenges_won=1)),
    ("steam_linked", MemberFacts(), MemberFacts(steam_linked=True)),
    ("recruiter", MemberFacts(valid_invites=4), MemberFacts(valid_invites=5)),
]


def test_every_rule_has_a_case_and_unique_keys() -> None:
    assert sorted(key for key, _, _ in RULE_CASES) == sorted(rule.key for rule in RULES)
    assert len(BY_KEY) == len(RULES)


@pytest.mark.parametrize(("key", "short", "enough"), RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_rule_unlocks_exactly_at_its_goal(key: str, short: MemberFacts, enough: MemberFacts) -> None:
    rule = BY_KEY[key]
    assert not rule.met(short) and rule.progress(short) < rule.goal
    assert rule.met(enough) and rule.progress(enough) == rule.goal
    assert rule.progress(MemberFacts(chapters_read=10**9, completed=10**9, valid_invites=10**9,
                                     streak_days=10**9, challenges_won=10**9)) <= rule.goal


def test_streak_is_the_longest_run_of_consecutive_days() -> None:
    d = date.fromisoformat
    assert streak_from([]) == 0
    assert streak_from([d("2026-01-05")]) == 1
    assert streak_from([d("2026-01-01"), d("2026-01-02"), d("2026-01-02"), d("2026-01-04")]) == 2
    assert streak_from([d("2025-12-30"), d("2025-12-31"), d("2026-01-01"), d("2026-03-01")]) == 3


def test_format_unlocks() -> None:
    assert format_unlocks([]) is None
    text = format_unlocks([BY_KEY["first_link"], BY_KEY["chapters_100"]])
    assert text is not None and text.count("\n") == 1 and "**First Link**" in text and "**Bookworm**" in text


# -- facts from the file ------------------------------------------------------------


async def _seed(db: GuildDb, user_id: int) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO users (discord_id, username, anilist_username, anilist_id) "
                         "VALUES (?, 'm', 'ShelfTester', 100001)", (user_id,))
        for manga_id, chapters, status, day in ((1, 60, "COMPLETED", "2026-01-01"), (2, 50, "CURRENT", "2026-01-02"),
                                                (3, 0, "PLANNING", "2026-01-03"), (4, 5, "COMPLETED", "bad")):
            await db.execute("INSERT INTO user_manga_progress (discord_id, manga_id, chapters_read, status, "
                             "updated_at) VALUES (?, ?, ?, ?, ?)", (user_id, manga_id, chapters, status, day))
        await db.execute("INSERT INTO steam_users (discord_id, steam_id) VALUES (?, '765')", (user_id,))
        await db.execute("INSERT INTO recruitment_stats (inviter_id, valid_invites) VALUES (?, 5)", (user_id,))
        await db.execute("INSERT OR IGNORE INTO challenges (challenge_id, title, is_active) VALUES (1, 'ended', 0), "
                         "(2, 'running', 1), (3, 'lost', 0)")
        await db.executemany("INSERT INTO user_progress (discord_id, challenge_id, manga_id, points_earned) "
                             "VALUES (?, ?, ?, ?)",
                             [(user_id, 1, 1, 3), (user_id, 1, 2, 2), (RIVAL, 1, 1, 4),
                              (user_id, 2, 1, 9), (user_id, 3, 1, 1), (RIVAL, 3, 1, 2)])


@pytest.mark.asyncio
async def test_facts_are_read_from_every_table_a_rule_measures(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        assert await fetch_member_facts(db, MEMBER) == MemberFacts()
        await _seed(db, MEMBER)
        facts = await fetch_member_facts(db, MEMBER)
        assert facts == MemberFacts(chapters_read=115, completed=2, anilist_linked=True, steam_linked=True,
                                    valid_invites=5, challenges_won=1, streak_days=3)
        await db.execute("INSERT INTO cached_stats (discord_id, total_chapters) VALUES (?, 1200)", (MEMBER,))
        assert (await fetch_member_facts(db, MEMBER)).chapters_read == 1200
        assert (await fetch_member_facts(db, RIVAL)).challenges_won == 1  # lost 1 (4 < 5), won 3 (2 > 1)
    async with manager.connect(GUILD_B) as db:
        assert await fetch_member_facts(db, MEMBER) == MemberFacts()


@pytest.mark.asyncio
async def test_unlocks_are_recorded_once_even_when_checked_concurrently(manager: GuildDatabaseManager) -> None:
    async with manager.connect(GUILD_A) as db:
        assert await check_achievements(db, MEMBER) == []
        await _seed(db, MEMBER)
        first, second = await asyncio.gather(check_achievements(db, MEMBER), check_achievements(db, MEMBER))
        assert {a.key for a in first} | {a.key for a in second} == {
            "first_link", "chapters_100", "first_finish", "challenge_winner", "steam_linked", "recruiter"}
        assert not {a.key for a in first} & {a.key for a in second}
        assert await check_achievements(db, MEMBER) == []
        statuses = await list_achievement_status(db, MEMBER)
        assert [s.unlocked_at is not None for s in statuses] == [True] * 6 + [False] * 4
        locked = {s.rule.key: s.progress for s in statuses if s.unlocked_at is None}
        assert locked == {"chapters_1000": 115, "chapters_10000": 115, "completionist": 2, "streak_7": 3}


# -- /achievements through the bot ------------------------------------------------------


@pytest.mark.asyncio
async def test_achievements_show_locked_with_progress_then_unlock_once(harness: BotHarness) -> None:
    empty = await harness.command(GUILD_A, MEMBER, "achievements")
    assert empty.content == "" and not empty.ephemeral
    embed = empty.embeds[0]
    assert embed["title"].endswith(f"(0 of {len(RULES)} unlocked)")
    assert "🔒 **Bookworm** — Read 100 chapters (0/100)" in embed["description"]
    assert embed["footer"]["text"] == "page 1 of 1" and empty.buttons() == []

    async with harness.bot.manager.connect(GUILD_A) as db:
        await _seed(db, MEMBER)
    unlocked = await harness.command(GUILD_A, MEMBER, "achievements")
    assert unlocked.content.count("Achievement unlocked") == 6 and "**First Link**" in unlocked.content
    assert unlocked.embeds[0]["title"].endswith(f"(6 of {len(RULES)} unlocked)")
    assert unlocked.embeds[0]["description"].startswith("🏆 **First Link**")
    assert "🔒 **Week Streak** — Record reading progress on 7 days in a row (3/7)" in unlocked.embeds[0]["description"]

    again = await harness.command(GUILD_A, MEMBER, "achievements")
    assert again.content == "" and again.embeds[0]["title"].endswith("(6 of 10 unlocked)")


@pytest.mark.asyncio
async def test_another_servers_achievements_never_show(harness: BotHarness) -> None:
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _seed(db, MEMBER)
    await harness.command(GUILD_A, MEMBER, "achievements")

    elsewhere = await harness.command(GUILD_B, MEMBER, "achievements")
    assert elsewhere.content == "" and elsewhere.embeds[0]["title"].endswith("(0 of 10 unlocked)")
    async with harness.bot.manager.connect(GUILD_B) as db:
        assert await db.execute_fetchall("SELECT * FROM achievements") == []


@pytest.mark.asyncio
async def test_another_members_achievements_are_shown_by_the_member_option(harness: BotHarness) -> None:
    harness.double.ensure_member(GUILD_A, ADMIN)
    async with harness.bot.manager.connect(GUILD_A) as db:
        await _seed(db, ADMIN)
    reply = await harness.command(GUILD_A, MEMBER, "achievements", {"member": str(ADMIN)})
    assert reply.embeds[0]["title"].endswith("(6 of 10 unlocked)"), reply.content


class FakeRest:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, object]] = []

    async def create_message(self, channel_id: int, content: str, **kwargs: object) -> None:
        self.sent.append((channel_id, content, kwargs.get("user_mentions")))


@pytest.mark.asyncio
async def test_unlocks_are_announced_in_the_servers_channel_only_when_one_is_set(
        manager: GuildDatabaseManager) -> None:
    rest = FakeRest()
    unlocked = [BY_KEY["first_link"], BY_KEY["recruiter"]]
    async with manager.connect(GUILD_A) as db:
        await announce_unlocks(rest, db, MEMBER, unlocked)  # type: ignore[arg-type]
        assert rest.sent == []
        await update_guild_settings(db, {"announce_channel_id": 4242}, user_id=ADMIN)
        await announce_unlocks(rest, db, MEMBER, [])  # type: ignore[arg-type]
        await announce_unlocks(rest, db, MEMBER, unlocked)  # type: ignore[arg-type]
    assert rest.sent == [(4242, f"🏆 <@{MEMBER}> unlocked **First Link**, **Recruiter**!", [MEMBER])]


@pytest.mark.asyncio
async def test_an_unlock_is_posted_once_in_the_announcement_channel(harness: BotHarness) -> None:
    channel_id = harness.double.ensure_guild(GUILD_A).channel_id
    await harness.command(GUILD_A, ADMIN, "settings", {"announce_channel": str(channel_id)}, admin=True)
    async with harness.bot.manager.connect(GUILD_A) as db:
        await db.execute("INSERT INTO steam_users (discord_id, steam_id) VALUES (?, '765')", (MEMBER,))
    first = await harness.command(GUILD_A, MEMBER, "achievements")
    await harness.command(GUILD_A, MEMBER, "achievements")

    assert first.content == "🏆 Achievement unlocked: **Player Two** — Link your Steam account."
    assert [(p.channel_id, p.content) for p in harness.double.channel_posts] == [
        (channel_id, f"🏆 <@{MEMBER}> unlocked **Player Two**!")]
