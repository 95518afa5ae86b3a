"""Item 4: after `/my-data delete`, no byte of the erased member's data is left in the file or its -wal."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.sandbox.harness import running_bot
from tests.e2e import ADMIN, GUILD_A, MEMBER
from tests.rights.conftest import populate

MARKER = "Zyxwvut-erase-me-4f1c"


def _raw(path: Path) -> bytes:
    return b"".join(Path(f"{path}{s}").read_bytes() for s in ("", "-wal") if Path(f"{path}{s}").exists())


@pytest.mark.asyncio
async def test_an_erased_members_name_is_in_no_byte_of_the_file_or_its_wal(tmp_path: Path) -> None:
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        async with h.bot.manager.connect(GUILD_A) as db:
            await populate(db, members=(ADMIN, MEMBER), n=3)
            await db.execute("UPDATE users SET username = ?, anilist_username = ? WHERE discord_id = ?",
                             (MARKER, MARKER, MEMBER))
            await db.execute("UPDATE steam_users SET vanity_name = ? WHERE discord_id = ?", (MARKER, MEMBER))
        path = h.bot.manager.path_for(GUILD_A)
        await h.command(GUILD_A, ADMIN, "server info", admin=True)  # the bot keeps the file open and writing
        assert MARKER.encode() in _raw(path)

        await h.command(GUILD_A, MEMBER, "my-data delete")
        done = await h.click(GUILD_A, MEMBER, "Erase my data")
        assert done.content.startswith("Erased ")
        await h.bot.manager.evict(GUILD_A)  # the bot keeps running; the guild's connection is closed
        assert MARKER.encode() not in _raw(path)
        async with h.bot.manager.connect(GUILD_A) as db:  # the other member is whole
            assert [r[0] for r in await db.execute_fetchall("SELECT discord_id FROM users")] == [ADMIN]
