"""Attack 5: a write in flight during an erasure or a deletion must not land after it.

`/manga update` looks the title up on AniList before it opens the server's file. A member who runs it and,
while AniList is slow, erases their data (or an admin who deletes the server's) must not find the entry,
their username and the reading day written back a moment after the erasure said they were gone: buffered
XP is dropped for the same reason.
"""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from app.features.media import MediaLookup
from app.sandbox.harness import running_bot
from app.services.anilist_models import Media
from tests.e2e import ADMIN, GUILD_A, MEMBER, give_a_file


def member_rows(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t} WHERE discord_id = ?", (MEMBER,)).fetchone()[0]
                   for t in ("users", "user_manga_progress", "reading_days"))
    finally:
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["my-data delete", "server-data delete"])
async def test_a_manga_update_in_flight_writes_nothing_after_the_erasure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    gate = asyncio.Event()
    looked_up = asyncio.Event()

    async def slow_resolve(self: MediaLookup, title: str) -> Media:
        looked_up.set()
        await gate.wait()  # AniList is slow: the server's file is not open yet
        return Media(id=30656, romaji="Secret Reading Title", chapters=116)

    monkeypatch.setattr(MediaLookup, "resolve", slow_resolve)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        await give_a_file(h, GUILD_A)
        path = h.bot.manager.path_for(GUILD_A)
        in_flight = await h.send(GUILD_A, MEMBER, "manga update", {"title": "30656", "chapter": "3"})
        async with asyncio.timeout(10):
            await looked_up.wait()

        if how == "my-data delete":
            await h.command(GUILD_A, MEMBER, "my-data delete")
            done = await h.click(GUILD_A, MEMBER, "Erase my data")
            assert done.content.startswith(("Erased ", "The bot stored nothing")), done.content
        else:
            await h.command(GUILD_A, ADMIN, "server-data delete", admin=True)
            await h.click(GUILD_A, ADMIN, "Delete everything", admin=True)
            form = await h.submit(GUILD_A, ADMIN, {"Server name": h.double.ensure_guild(GUILD_A).name}, admin=True)
            replies = await h.settle(form)
            assert any("deleted" in r.content.lower() for r in replies), [r.content for r in replies]
            assert not path.exists()
        gate.set()
        reply = await h.answer(in_flight)

        assert member_rows(path) == 0, reply.content
        assert "Secret Reading Title" not in reply.content or "not recorded" in reply.content.lower()
