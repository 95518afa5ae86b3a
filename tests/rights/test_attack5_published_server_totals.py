"""Attack 5: a member's erasure reaches the server's published totals too, not only the member's own row.

The `servers` row of a sharing server adds up its members' chapters (and counts their AniList links and
genres). Erased from the server, the member's chapters must not stay in that published total: not until
something else happens to mark the server dirty, and not forever in a quiet server.
"""
from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from app.features.progress import record_chapter
from app.rights.fanout import forget_user
from app.sandbox.harness import running_bot
from app.services.anilist_models import Media
from app.shared.publisher import PUBLISH_INTERVAL_S
from app.shared.store import STORE_FILE_NAME
from tests.e2e import ADMIN, GUILD_A, MEMBER

MANGA = Media(id=30656, romaji="Fullmetal Alchemist", chapters=116)


def published_server(root: Path) -> tuple[int, int]:
    conn = sqlite3.connect(root / STORE_FILE_NAME)
    try:
        row = conn.execute("SELECT chapters_total, chapters_month FROM servers WHERE guild_id = ?",
                           (GUILD_A,)).fetchone()
        return int(row[0]), int(row[1])
    finally:
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["my-data delete", "user forget"])
async def test_an_erased_members_chapters_leave_the_servers_published_totals(tmp_path: Path, how: str) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        async with h.bot.manager.connect(GUILD_A) as db:
            await record_chapter(db, MANGA, ADMIN, "admin", 5)
            await record_chapter(db, MANGA, MEMBER, "member", 100)
        on = await h.command(GUILD_A, ADMIN, "server-data sharing on", admin=True)
        assert on.content.startswith("Sharing is on"), on.content
        root = h.bot.manager.root
        assert published_server(root) == (105, 105)

        if how == "my-data delete":
            await h.command(GUILD_A, MEMBER, "my-data delete")
            done = await h.click(GUILD_A, MEMBER, "Erase my data")
            assert done.content.startswith("Erased "), done.content
        else:
            await forget_user(h.bot.manager, MEMBER)

        assert published_server(root) == (5, 5)  # at once, as the member's own row
        await h.advance(timedelta(seconds=PUBLISH_INTERVAL_S + 1))  # a publishing round changes nothing back
        assert published_server(root) == (5, 5)
