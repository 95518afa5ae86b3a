"""`/global`, `/server compare` and `/server-data sharing` end to end: the real bot on the strict Discord double.

Servers A and B share, C does not; members join (or not) in some of them. What the store holds and
what every command shows must be exactly what was consented to, and withdrawals act at once.
"""
from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from app.doubles.discord_state import Reply
from app.features.progress import record_chapter
from app.features.xp import add_xp
from app.rights.fanout import forget_user
from app.rights.guild_delete import delete_guild
from app.rights.member import export_member
from app.rights.receipts import list_receipts
from app.sandbox.harness import BotHarness, running_bot
from app.services.anilist_models import Media
from app.shared.publisher import PUBLISH_INTERVAL_S
from app.shared.rebuild import rebuild_store
from app.shared.store import STORE_FILE_NAME
from tests.e2e import ADMIN, GUILD_A, GUILD_B

GUILD_C = 333_333_333_333_333_333  # does not share
ANN = 900_000_000_000_000_011  # joins in A and B
BEN = 900_000_000_000_000_012  # joins in A
CAL = 900_000_000_000_000_013  # never joins
DEE = 900_000_000_000_000_014  # only in C (not sharing): tries to join there
ODD_NAME = "';DROP TABLE m--\u202e@everyone ワ*ン*"  # 30 characters: within the option's 32
MANGA = Media(id=30656, romaji="Fullmetal Alchemist", chapters=116)


def text(reply: Reply) -> str:
    parts = [reply.content]
    for embed in reply.embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(p for p in parts if p)


async def seed(bot: BotHarness, guild_id: int, user_id: int, *, xp: int, chapters: int = 0) -> None:
    """Through the features' own functions (so their publish hooks run, as after a command or an XP flush)."""
    async with bot.bot.manager.connect(guild_id) as db:
        await add_xp(db, [(user_id, xp)])
        if chapters:
            await record_chapter(db, MANGA, user_id, f"user{user_id}", chapters)


async def publish(bot: BotHarness) -> None:
    """A publishing round falls due (the batch runs off the command path, on the bot's clock)."""
    await bot.advance(timedelta(seconds=PUBLISH_INTERVAL_S + 1))


def store_values(root: Path) -> set[object]:
    """Every value of every row of the store (to prove something is in none of them)."""
    conn = sqlite3.connect(root / STORE_FILE_NAME)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {v for t in tables for row in conn.execute(f"SELECT * FROM {t}") for v in row}
    finally:
        conn.close()


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A, GUILD_B, GUILD_C]) as harness:
        await seed(harness, GUILD_A, ANN, xp=500, chapters=40)
        await seed(harness, GUILD_A, BEN, xp=300)
        await seed(harness, GUILD_B, ANN, xp=200, chapters=10)
        await seed(harness, GUILD_B, CAL, xp=1000, chapters=100)
        await seed(harness, GUILD_C, ANN, xp=9999, chapters=99)
        await seed(harness, GUILD_C, DEE, xp=5000)
        for guild_id in (GUILD_A, GUILD_B):
            on = await harness.command(guild_id, ADMIN, "server-data sharing on", admin=True)
            assert on.content.startswith("Sharing is on"), on.content
        assert (await harness.command(GUILD_A, ANN, "global join", {"display-name": ODD_NAME})).ephemeral
        await harness.command(GUILD_B, ANN, "global join")
        await harness.command(GUILD_A, BEN, "global join", {"display-name": "Ben"})
        yield harness


async def board(bot: BotHarness, kind: str = "xp", *, guild_id: int = GUILD_C, user_id: int = DEE) -> str:
    return text(await bot.command(guild_id, user_id, "global leaderboard", {"kind": kind}))


@pytest.mark.asyncio
async def test_leaderboard_shows_exactly_the_consenting_members_of_sharing_servers(bot: BotHarness) -> None:
    xp = await board(bot)
    chapters = await board(bot, "chapters", guild_id=GUILD_A, user_id=ANN)

    lines = [line for line in xp.splitlines() if line.startswith("**#")]
    assert len(lines) == 2, xp
    assert lines[0].startswith("**#1** ") and lines[0].endswith("— 700 XP (level 3)")  # 500 in A + 200 in B
    assert lines[1] == "**#2** Ben — 300 XP (level 2)"
    assert "You are not on this leaderboard (2 ranked)" in xp  # DEE asked from C, where nothing is shared
    assert "9,999" not in xp and "1,000 XP" not in xp  # C's figures and CAL (never joined) appear nowhere
    assert "**#1**" in chapters and "50 chapters" in chapters and "You: #1 of 1 with 50 chapters" in chapters


@pytest.mark.asyncio
async def test_an_odd_display_name_is_stored_as_given_and_shown_harmlessly(bot: BotHarness) -> None:
    xp = await board(bot)

    assert ODD_NAME.replace("\u202e", "") in store_values(bot.bot.manager.root)  # bidi control dropped
    assert "**#1** ';DROP TABLE m--@\u200beveryone ワ\\*ン\\* — 700 XP" in xp  # no ping, no markdown
    assert "\u202e" not in xp
    assert (await board(bot)).count("**#") == 2  # the store's tables are intact


@pytest.mark.asyncio
async def test_nothing_of_a_non_sharing_server_is_published_and_joining_there_is_refused(bot: BotHarness) -> None:
    refused = await bot.command(GUILD_C, DEE, "global join")
    await seed(bot, GUILD_C, ANN, xp=1)  # marks C: dropped, C does not share
    await publish(bot)
    stats = text(await bot.command(GUILD_C, DEE, "global stats"))
    compare = await bot.command(GUILD_C, ADMIN, "server compare", admin=True)

    assert refused.content.startswith("This server does not share its figures")
    values = store_values(bot.bot.manager.root)
    assert GUILD_C not in values and DEE not in values and CAL not in values
    assert 9999 not in values and 9999 + 700 not in values
    assert "Servers sharing: 2" in stats
    assert compare.content.startswith("This server does not share its figures, so it cannot be compared")


@pytest.mark.asyncio
async def test_changes_are_published_in_the_next_batch_and_rebuild_finds_no_difference(bot: BotHarness) -> None:
    await seed(bot, GUILD_A, ANN, xp=100, chapters=60)
    before = await board(bot)
    await publish(bot)
    after = await board(bot)
    report = await rebuild_store(bot.bot.manager, datetime.now(UTC) + bot.clock.offset)

    assert "— 700 XP" in before  # not on the command path: the batch has not run yet
    assert "— 800 XP (level 3)" in after
    assert report.differences == [] and report.servers == 2 and report.members == 2
    assert report.guild_files == 3


@pytest.mark.asyncio
async def test_stats_and_compare_answer_from_the_store(bot: BotHarness) -> None:
    stats = text(await bot.command(GUILD_A, BEN, "global stats"))
    median = text(await bot.command(GUILD_A, ADMIN, "server compare", admin=True))
    named = text(await bot.command(GUILD_A, ADMIN, "server compare", {"other": str(GUILD_B)}, admin=True))
    unknown = await bot.command(GUILD_A, ADMIN, "server compare", {"other": "no such server"}, admin=True)

    assert "Chapters read: 150 (150 this month)" in stats  # A: 40, B: 10 + 100 (whoever joined or not)
    assert "Chapters read in total: 40 here · 75 there" in median  # the median of 40 and 110
    assert "Chapters read in total: 40 here · 110 there" in named
    assert unknown.content.startswith("No sharing server that allows comparisons goes by that name")


@pytest.mark.asyncio
async def test_opting_out_takes_effect_at_once(bot: BotHarness) -> None:
    left = await bot.command(GUILD_B, BEN, "global leave")
    after_leave = await board(bot)
    off = await bot.command(GUILD_B, ADMIN, "server-data sharing off", admin=True)
    after_off = await board(bot)
    status = await bot.command(GUILD_B, ADMIN, "server-data sharing status", admin=True)
    await seed(bot, GUILD_B, ANN, xp=5)  # B's marks after sharing off: dropped
    await publish(bot)

    assert left.content == "Your totals are no longer published anywhere."
    assert "Ben" not in after_leave and "— 700 XP" in after_leave
    assert off.content.startswith("Sharing is off: this server's totals")
    assert "— 500 XP" in after_off  # B's 200 went with B's sharing
    assert status.content.startswith("Sharing is off")
    assert GUILD_B not in store_values(bot.bot.manager.root)
    assert "— 500 XP" in await board(bot)


@pytest.mark.asyncio
async def test_erasure_removes_the_published_row_at_once_and_export_includes_it(bot: BotHarness) -> None:
    async with bot.bot.manager.connect(GUILD_B) as db:
        exported = await export_member(db, ANN)
    await bot.command(GUILD_A, ANN, "my-data delete")
    await bot.click(GUILD_A, ANN, "Erase my data")
    after = await board(bot)
    report = await forget_user(bot.bot.manager, BEN)

    published = exported["published_across_servers"]
    assert published["xp"] == 700 and published["display_name"] == ODD_NAME.replace("\u202e", "")
    assert [s["guild_id"] for s in published["from_servers"]] == [GUILD_A, GUILD_B]
    assert "— 700 XP" not in after and "Ben" in after
    assert not report.failed
    assert "**#" not in await board(bot)
    assert ANN not in store_values(bot.bot.manager.root) and BEN not in store_values(bot.bot.manager.root)


@pytest.mark.asyncio
async def test_deleting_a_server_removes_its_row_and_its_contribution_at_once(bot: BotHarness) -> None:
    await delete_guild(bot.bot.manager, GUILD_A, requested_by="test", reason="test")
    after = await board(bot)
    stats = text(await bot.command(GUILD_B, ANN, "global stats"))

    assert "Ben" not in after and "— 200 XP (level 1)" in after  # ANN's total is B's share only
    assert "Servers sharing: 1" in stats
    assert GUILD_A not in store_values(bot.bot.manager.root)


@pytest.mark.asyncio
async def test_help_lists_the_cross_server_commands(bot: BotHarness) -> None:
    member = text(await bot.command(GUILD_C, DEE, "help"))
    admin = text(await bot.command(GUILD_A, ADMIN, "help", admin=True))

    community = member.split("Community:")[1].split("Your data:")[0]
    assert all(f"`/global {sub}`" in community for sub in ("join", "leave", "leaderboard", "stats"))
    assert "/server compare" not in member and "/server-data sharing" not in member
    assert all(f"`/server-data sharing {sub}`" in admin for sub in ("on", "off", "status"))
    assert "`/server compare`" in admin


def store_bytes(root: Path) -> bytes:
    """The store file and its -wal, raw: an erased value must be in neither (not even in a free page or frame)."""
    path = root / STORE_FILE_NAME
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.mark.asyncio
async def test_an_erased_members_display_name_is_in_no_byte_of_the_store_or_its_wal(bot: BotHarness) -> None:
    marker = "Qz-erase-me-7c21"
    await seed(bot, GUILD_A, CAL, xp=10)
    await bot.command(GUILD_A, CAL, "global join", {"display-name": marker})
    root = bot.bot.manager.root
    assert marker.encode() in store_bytes(root)

    await bot.command(GUILD_A, CAL, "my-data delete")
    done = await bot.click(GUILD_A, CAL, "Erase my data")

    assert done.content.startswith("Erased "), done.content
    assert marker.encode() not in store_bytes(root)  # the bot keeps its own connection to the store open


@pytest.mark.asyncio
async def test_a_deleted_servers_name_is_in_no_byte_of_the_store_or_its_wal(bot: BotHarness) -> None:
    root = bot.bot.manager.root
    name = b"Server 1111"  # the double's name for GUILD_A, published by sharing on
    assert name in store_bytes(root)

    await delete_guild(bot.bot.manager, GUILD_A, requested_by="test", reason="test")

    assert name not in store_bytes(root)


@pytest.mark.asyncio
async def test_erasing_where_only_the_published_row_is_held_says_so_and_leaves_a_receipt(bot: BotHarness) -> None:
    await bot.command(GUILD_B, BEN, "my-data delete")  # BEN has nothing in B, and joined the leaderboards in A
    done = await bot.click(GUILD_B, BEN, "Erase my data")
    async with bot.bot.manager.connect_bot() as bot_db:
        receipts = await list_receipts(bot_db)

    assert "Ben" not in await board(bot)
    assert "nothing to erase" not in done.content and "withdrawn" in done.content, done.content
    assert [(r.scope, r.guild_id, r.user_id) for r in receipts] == [("member", GUILD_B, BEN)]
    assert "cross-server" in receipts[0].reason


@pytest.mark.asyncio
async def test_forget_records_the_withdrawal_of_a_published_row_in_a_receipt(bot: BotHarness) -> None:
    fresh = 444_444_444_444_444_444  # DEE holds nothing there: her only rows are in C, which does not share
    await bot.add_bot_to_guild(fresh)
    await bot.command(fresh, ADMIN, "server-data sharing on", admin=True)
    joined = await bot.command(fresh, DEE, "global join", {"display-name": "Dee"})
    assert joined.content.startswith("You are on the global leaderboards"), joined.content

    report = await forget_user(bot.bot.manager, DEE)
    async with bot.bot.manager.connect_bot() as bot_db:
        receipts = [r for r in await list_receipts(bot_db) if r.user_id == DEE]

    assert DEE not in store_values(bot.bot.manager.root) and "Dee" not in store_values(bot.bot.manager.root)
    assert report.as_dict()["published_row_removed"] is True
    assert GUILD_C in [r.guild_id for r in receipts]
    assert any("cross-server" in r.reason for r in receipts)  # what was withdrawn is on record too
