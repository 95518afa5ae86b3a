"""The sandbox answers AniList commands from the built-in catalogue, or from one given with --anilist."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.sandbox.runner import run_sandbox

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = {"users": [{"id": 7, "name": "Kai", "private": False, "lists": [
    {"mediaId": 1, "status": "CURRENT", "progress": 12, "progressVolumes": 2, "score": 80}]}],
    "media": [{"id": 1, "title": {"romaji": "Tiny Manga", "english": None, "native": None}, "chapters": 20,
               "volumes": 3, "genres": ["Slice of Life"], "status": "FINISHED", "averageScore": 70,
               "isAdult": False, "recommendations": []}]}
SCRIPT = ["555 bot join", "555 7 /anilist link username:Kai", "555 7 /stats",
          '555 7 /manga update title:"Tiny Manga" chapter:21', "555 7 /manga update title:tiny chapter:20"]


async def sandbox_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], script: list[str],
                       anilist: Path | None) -> list[dict[str, object]]:
    settings = Settings(guild_dbs_dir=tmp_path / "unused", anilist_url="http://127.0.0.1:9/never-called")
    code = await run_sandbox(settings, script=script, demo=False, as_json=True, dbs=None, anilist=anilist)
    assert code == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.mark.asyncio
async def test_a_catalogue_given_with_anilist_is_what_the_commands_see(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE), encoding="utf-8")
    replies = await sandbox_json(tmp_path, capsys, SCRIPT, catalogue)

    by_line = {r["line"]: r for r in replies}
    assert str(by_line[2]["content"]).startswith("Linked to the AniList account **Kai**")
    stats = {f["name"]: f["value"] for f in by_line[3]["embeds"][0]["fields"]}  # type: ignore[index]
    assert (stats["Manga"], stats["Chapters read"], stats["Top genres"]) == ("1", "12", "Slice of Life")
    assert by_line[4]["content"] == "Tiny Manga has 20 chapters, so chapter 21 cannot be recorded."
    assert str(by_line[5]["content"]).startswith("Recorded in this server: **Tiny Manga**: chapter 20 (completed).")


@pytest.mark.asyncio
async def test_the_built_in_catalogue_is_on_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replies = await sandbox_json(tmp_path, capsys, ["555 bot join", "555 7 /anilist link username:ShelfTester",
                                                    "555 7 /anilist link username:Kai"], None)

    by_line = {r["line"]: r for r in replies}
    assert str(by_line[2]["content"]).startswith("Linked to the AniList account **ShelfTester**")
    assert str(by_line[3]["content"]).startswith("There is no public AniList user called “Kai”")


def test_cli_refuses_an_unreadable_catalogue_in_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GUILD_DBS_DIR": str(tmp_path / "real")}
    env.pop("DISCORD_TOKEN", None)
    result = subprocess.run([sys.executable, "-m", "app", "sandbox", "--anilist", str(bad)], cwd=tmp_path, env=env,
                            input="", capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode != 0
    assert result.stderr.strip().startswith(f"The AniList catalogue {bad} is not valid JSON")
    assert "Traceback" not in result.stderr


@pytest.mark.asyncio
async def test_the_test_harness_never_lets_the_bot_reach_the_real_anilist(tmp_path: Path) -> None:
    from app.sandbox.harness import running_bot

    async with running_bot(tmp_path / "guild_dbs", guilds=[555]) as harness:
        reply = await harness.command(555, 7, "anilist link", {"username": "ShelfTester"})
        assert harness.anilist is not None
        assert harness.bot.settings.anilist_url == harness.anilist.url
        sent = len(harness.anilist.requests)

    assert reply.content.startswith("Linked to the AniList account **ShelfTester**")
    assert sent == 1
