from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings, load_settings
from app.errors import ConfigurationError


def test_defaults_follow_the_configuration_table() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert (settings.guild_dbs_dir, settings.legacy_db) == (Path("guild_dbs"), Path("database.db"))
    assert (settings.max_open_guild_dbs, settings.retention_days, settings.log_level) == (128, 30, "INFO")


def test_every_variable_is_read() -> None:
    settings = load_settings({
        "DISCORD_TOKEN": "t", "GUILD_DBS_DIR": "/data/g", "LEGACY_DB": "/data/old.db", "HOME_GUILD_ID": "42",
        "MAX_OPEN_GUILD_DBS": "7", "RETENTION_DAYS": "0", "ANILIST_URL": "http://127.0.0.1:1/graphql",
        "STEAM_API_KEY": "k", "STEAM_API_URL": "http://127.0.0.1:2", "LOG_LEVEL": "debug"})
    assert settings == Settings("t", Path("/data/g"), Path("/data/old.db"), 42, 7, 0,
                                "http://127.0.0.1:1/graphql", "k", "http://127.0.0.1:2", "DEBUG")


@pytest.mark.parametrize(("name", "value"), [("MAX_OPEN_GUILD_DBS", "many"), ("MAX_OPEN_GUILD_DBS", "0"),
                                             ("RETENTION_DAYS", "-1"), ("HOME_GUILD_ID", "1; DROP")])
def test_unusable_numbers_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({name: value})
    assert name in caught.value.user_message


def test_a_dotenv_file_fills_what_the_environment_leaves_unset(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "0")  # recorded, so that undo also removes what .env sets
    monkeypatch.delenv("RETENTION_DAYS")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    (tmp_path / ".env").write_text("RETENTION_DAYS=3\nLOG_LEVEL=ERROR\n")
    settings = load_settings(dotenv_path=tmp_path / ".env")
    assert (settings.retention_days, settings.log_level) == (3, "WARNING")
