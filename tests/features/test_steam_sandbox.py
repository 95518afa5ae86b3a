"""The sandbox: the Steam double answers by default, `--steam FILE` loads another catalogue."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import Settings
from app.errors import ConfigurationError
from app.sandbox.runner import run_sandbox

SCRIPT = ["555 7 /steam link profile:gabelogannewell", "555 7 /steam games", "555 8 /steam link profile:solo"]


@pytest.mark.asyncio
async def test_the_sandbox_answers_steam_from_the_builtin_or_a_given_catalogue(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(steam_api_key="a-real-key-never-used", guild_dbs_dir=tmp_path / "unused")
    script = ["555 bot join", *SCRIPT]
    assert await run_sandbox(settings, script=script, demo=False, as_json=True, dbs=None) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[1]["content"].split("\n")[0] == "Linked Steam account **Gabe** (76561197960287930)."
    assert "Stardew Valley" in out[2]["embeds"][0]["description"]
    assert out[3]["content"].startswith("No Steam profile has the custom URL “solo”")

    catalogue = tmp_path / "steam.json"
    game = {"appid": 1, "name": "Only Game", "playtime_forever": 60}
    catalogue.write_text(json.dumps({"players": [{"steamid": "76561198000000042", "personaname": "Solo",
                                                  "vanity": "solo", "public": True, "games": [game]}]}))
    code = await run_sandbox(settings, script=[*script, "555 8 /steam games"], demo=False, as_json=True, dbs=None,
                             steam=catalogue)
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and out[1]["content"].startswith("No Steam profile has the custom URL “gabelogannewell”")
    assert out[3]["content"].split("\n")[0] == "Linked Steam account **Solo** (76561198000000042)."
    assert "**1.** Only Game — 1.0 h" in out[4]["embeds"][0]["description"]
    assert not (tmp_path / "unused").exists()


@pytest.mark.asyncio
async def test_an_unreadable_catalogue_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        await run_sandbox(Settings(), script=[], demo=False, as_json=True, dbs=None, steam=tmp_path / "no.json")
    assert err.value.user_message.startswith("Cannot read the Steam catalogue")
