"""Catalogues written to the contract but unlike the built-in ones: the sandbox refuses or plays them cleanly."""
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


def sandbox_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GUILD_DBS_DIR": str(tmp_path / "real")}
    env.pop("DISCORD_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "app", "sandbox", *args], cwd=tmp_path, env=env, input="",
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("option", "catalogue", "sentence"), [
    ("--anilist", {"media": [{"id": 1, "title": {"romaji": "A"}, "recommendations": ["abc"]}]},
     "media[0].recommendations[0] must be a whole number from 1 to 2147483647."),
    ("--anilist", {"media": [{"id": 99_999_999_999_999_999_999, "title": {"romaji": "Huge"}}]},
     "media[0].id must be a whole number from 1 to 2147483647."),
    ("--steam", {"players": [{"steamid": "76561198000000010", "personaname": "P", "games": [{"appid": 1,
                                                                                             "name": 5}]}]},
     "players[0].games[0].name must be a string or null."),
])
def test_a_catalogue_entry_off_the_format_stops_the_sandbox_with_one_sentence_naming_it(
        tmp_path: Path, option: str, catalogue: object, sentence: str) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(catalogue), encoding="utf-8")
    result = sandbox_cli(tmp_path, option, str(path))

    assert result.returncode != 0
    assert result.stderr.strip().endswith(f"is not in the catalogue format: {sentence}")
    assert "Unexpected" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.asyncio
async def test_case_twins_link_to_themselves_and_a_count_of_0_chapters_takes_any_chapter(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "anilist.json"
    path.write_text(json.dumps({
        "users": [{"id": 1, "name": "Alpha", "lists": [{"mediaId": 5, "status": "CURRENT", "progress": 40}]},
                  {"id": 2, "name": "alpha", "lists": []}],
        "media": [{"id": 5, "title": {"romaji": "Still Going"}, "chapters": 0, "volumes": 0}]}), encoding="utf-8")
    script = ["555 bot join", "555 7 /anilist link username:Alpha", "555 7 /stats",
              "555 7 /manga update title:5 chapter:41"]
    settings = Settings(guild_dbs_dir=tmp_path / "unused", anilist_url="http://127.0.0.1:9/never-called")

    assert await run_sandbox(settings, script=script, demo=False, as_json=True, dbs=None, anilist=path) == 0
    replies = {r["line"]: r for r in map(json.loads, capsys.readouterr().out.splitlines()) if "content" in r}

    assert str(replies[2]["content"]).startswith("Linked to the AniList account **Alpha**")
    stats = {f["name"]: f["value"] for f in replies[3]["embeds"][0]["fields"]}
    assert (stats["Manga"], stats["Chapters read"]) == ("1", "40")
    assert str(replies[4]["content"]).startswith("Recorded in this server: **Still Going**: chapter 41 (reading).")
