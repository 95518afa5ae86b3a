"""Attack 7: the retention clock through sandbox script lines (`bot leave`, `clock +N`)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.config import Settings
from app.sandbox.harness import running_bot
from app.sandbox.runner import ScriptRunner

GUILD = 555


async def _script(root: Path, lines: list[str], *, pause: float = 0.0) -> list[dict[str, object]]:
    out: list[str] = []
    async with asyncio.timeout(30):  # the bot must stop once the script ends
        async with running_bot(root, settings=Settings(retention_days=30)) as harness:
            runner = ScriptRunner(harness, as_json=True, out=out.append)
            for number, text in enumerate(lines, start=1):
                await asyncio.sleep(pause)  # a person typing: real time passes between lines
                await runner.run_line(text, number)
    return [json.loads(o) for o in out]


@pytest.mark.asyncio
async def test_bot_leave_then_30_days_purges_the_file_and_the_bot_still_stops(
        tmp_path: Path) -> None:
    root = tmp_path / "guild_dbs"
    objects = await _script(root, [
        f"{GUILD} bot join",
        f"{GUILD} 7 admin /settings xp_amount:20",
        f"{GUILD} bot leave",
        "clock +29d",
        "clock +1d",
        "clock +1s",
    ], pause=0.4)
    assert not any("error" in o for o in objects), objects
    assert not (root / f"{GUILD}.sqlite3").exists()
