"""Helpers of the replica tests: two guilds of two members each and the bot-wide file, replicated by a daemon that
then stops; the CLI's restore read back as outcomes."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from app.cli import main
from app.db import GuildDatabaseManager
from app.db.files import SIDE_FILES
from app.replicate.litestream import Litestream
from tests.db.helpers import build_guild_file

GUILD = 111_111_111_111_111_111
OTHER = 222_222_222_222_222_222
ERASED, KEPT = 42, 43


def fill(root: Path) -> None:
    """Both guilds with both members, and the bot-wide file."""
    async def fill_files() -> None:
        for guild_id in (GUILD, OTHER):
            build_guild_file(root, guild_id)
        async with GuildDatabaseManager(root) as manager:
            for guild_id in (GUILD, OTHER):
                async with manager.connect(guild_id) as db, db.transaction():
                    for user_id in (ERASED, KEPT):
                        await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)",
                                         (user_id, f"u{user_id}"))
            async with manager.connect_bot():
                pass

    asyncio.run(fill_files())


def replicate(workdir: Path, paths: list[Path], replica: str) -> None:
    """A daemon (its folder `workdir`) replicates `paths` once, then stops."""
    daemon = Litestream(workdir, replica)
    daemon.start()
    try:
        daemon.reconcile(paths)
        for path in paths:
            daemon.sync(path)
    finally:
        daemon.stop()


def lose(path: Path) -> None:
    for lost in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        lost.unlink(missing_ok=True)


def users(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY discord_id")]
    finally:
        conn.close()


def restore(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    """`restore --from-replica --json ARGS`: the exit code and each file's (outcome, detail)."""
    code = main(["restore", "--from-replica", "--json", *args])
    files = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"]
    return code, {f["name"]: (f["outcome"], f["detail"]) for f in files}
