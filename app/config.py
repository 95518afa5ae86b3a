"""Settings from the environment and an optional `.env` (names are contracts: see the README)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from app.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the bot, with its default."""

    discord_token: str | None = None
    guild_dbs_dir: Path = Path("./guild_dbs")
    legacy_db: Path = Path("./database.db")
    home_guild_id: int | None = None
    max_open_guild_dbs: int = 128
    retention_days: int = 30
    anilist_url: str = "https://graphql.anilist.co"
    steam_api_key: str | None = None
    steam_api_url: str = "https://api.steampowered.com"
    log_level: str = "INFO"
    legacy_keep_days: int = 30
    anilist_rate_per_min: int = 30
    stats_ttl_hours: int = 12


def _int(env: dict[str, str], name: str, default: int | None, *, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw[:40]!r}.") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}.")
    return value


def load_settings(env: dict[str, str] | None = None, *, dotenv_path: Path | None = None) -> Settings:
    """Read settings from `env` (default: the process environment, after loading `.env`).

    Raises:
        ConfigurationError: a variable holds a value that cannot be used.
    """
    if env is None:
        load_dotenv(dotenv_path or Path(".env"), override=False)
        env = dict(os.environ)
    d = Settings()
    return Settings(
        discord_token=env.get("DISCORD_TOKEN") or None,
        guild_dbs_dir=Path(env.get("GUILD_DBS_DIR") or d.guild_dbs_dir),
        legacy_db=Path(env.get("LEGACY_DB") or d.legacy_db),
        home_guild_id=_int(env, "HOME_GUILD_ID", None, minimum=1),
        max_open_guild_dbs=_int(env, "MAX_OPEN_GUILD_DBS", d.max_open_guild_dbs, minimum=1)
        or d.max_open_guild_dbs,
        retention_days=_int(env, "RETENTION_DAYS", d.retention_days, minimum=0) or 0,
        anilist_url=env.get("ANILIST_URL") or d.anilist_url,
        steam_api_key=env.get("STEAM_API_KEY") or None,
        steam_api_url=env.get("STEAM_API_URL") or d.steam_api_url,
        log_level=(env.get("LOG_LEVEL") or d.log_level).upper(),
        legacy_keep_days=_int(env, "LEGACY_KEEP_DAYS", d.legacy_keep_days, minimum=0) or 0,
        anilist_rate_per_min=_int(env, "ANILIST_RATE_PER_MIN", d.anilist_rate_per_min, minimum=1)
        or d.anilist_rate_per_min,
        stats_ttl_hours=_int(env, "STATS_TTL_HOURS", d.stats_ttl_hours, minimum=0) or 0,
    )
