"""One bot process of a shard block, for tests: `python -m tests.shards.bot_process` (env below).

Reads GUILD_DBS_DIR, SHARD_IDS, SHARD_COUNT like `run`, and DOUBLE_TOKEN / DOUBLE_REST_URL for the
Discord double; prints "ready" once started, and stops when its stdin closes.
"""
from __future__ import annotations

import asyncio
import os
import sys

from app.bot.app import BotApp
from app.config import load_settings


async def serve() -> None:
    app = BotApp(load_settings(), token=os.environ["DOUBLE_TOKEN"], rest_url=os.environ["DOUBLE_REST_URL"])
    await app.start()
    print("ready", flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await app.stop()


if __name__ == "__main__":
    asyncio.run(serve())
