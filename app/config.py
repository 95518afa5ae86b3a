"""Settings from the environment and an optional `.env` (names are contracts: see the README)."""
from __future__ import annotations

import io
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from dotenv.parser import parse_stream

from app.db.ids import MAX_SNOWFLAKE
from app.db.limits import default_max_open
from app.db.shards import MAX_SHARDS, ShardBlock, parse_shard_ids
from app.errors import ConfigurationError
from app.ops.ratelimit import DEFAULT_RATE_GUILD, DEFAULT_RATE_MEMBER, Rate, parse_rate

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("TEXT", "JSON")
CACHE_POLICIES = ("LRU", "TINYLFU")
FILE_CREATION = ("FIRST-USE", "FIRST-WRITE")
SQLITE_ENGINES = ("AUTO", "STDLIB", "PYSQLITE3")  # app/engine.py reads GUILDSHELF_SQLITE itself, at import
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the bot, with its default; the secrets never show in its repr."""

    discord_token: str | None = field(default=None, repr=False)
    guild_dbs_dir: Path = Path("./guild_dbs")
    legacy_db: Path = Path("./database.db")
    home_guild_id: int | None = None
    # 1,024 (DEFAULT_MAX_OPEN), or as many as fit under a lower hard open-files limit (limits.py)
    max_open_guild_dbs: int = field(default_factory=default_max_open)
    retention_days: int = 30
    anilist_url: str = "https://graphql.anilist.co"
    steam_api_key: str | None = field(default=None, repr=False)
    steam_api_url: str = "https://api.steampowered.com"
    log_level: str = "INFO"
    legacy_keep_days: int = 30
    max_guild_db_mb: int = 100
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    rate_member: Rate = DEFAULT_RATE_MEMBER
    rate_guild: Rate = DEFAULT_RATE_GUILD
    log_format: str = "text"
    anilist_rate_per_min: int = 30
    stats_ttl_hours: int = 12
    xp_cooldown_seconds: int = 60
    shard_ids: tuple[int, ...] | None = None  # None: every shard (one process)
    shard_count: int | None = None  # None: the gateway's recommendation ("auto")
    backup_retention_days: int = 30
    litestream_replica_url: str | None = None  # file:///path or s3://bucket/prefix: continuous replication
    guild_cache_policy: str = "lru"  # which open connection goes first: "lru" or "tinylfu" (docs/storage.md)
    guild_file_creation: str = "first-use"  # "first-write": a guild only read has no file (docs/storage.md)

    @property
    def shard_block(self) -> ShardBlock | None:
        """This process's block, or None when it serves every shard."""
        if self.shard_ids is None or self.shard_count is None:
            return None
        return ShardBlock(frozenset(self.shard_ids), self.shard_count)


def _int(env: dict[str, str], name: str, default: int | None, *, minimum: int, maximum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if _WHOLE_NUMBER.fullmatch(raw) is None:  # int() would also take "١٢٣", "1_000" and "+1"
        raise ConfigurationError(f"{name} must be a whole number, not {raw[:40]!r}.")
    value = int(raw)
    if not minimum <= value <= maximum:
        shown = raw if len(raw) <= 20 else raw[:17] + "..."
        raise ConfigurationError(f"{name} must be between {minimum} and {maximum}, not {shown}.")
    return value


def _text(env: dict[str, str], name: str) -> str:
    """The value without surrounding whitespace (a blank one counts as unset)."""
    return (env.get(name) or "").strip()


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_text(env, name) or default).upper()
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {env.get(name, '')[:40]!r}.")
    return value


def _url(env: dict[str, str], name: str, default: str) -> str:
    value = _text(env, name) or default
    try:  # urlsplit refuses an unbalanced "[", and .port a port that is not a number below 65536
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        usable = False
    if not usable or any(c.isspace() or not c.isprintable() for c in value):
        raise ConfigurationError(f"{name} must be an http:// or https:// address, not {value[:60]!r}.")
    return value


def _rate(env: dict[str, str], name: str, default: Rate) -> Rate:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_rate(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be COUNT/PERIOD such as 5/10s, 60/1m or 100/1h, "
                                 f"not {raw[:40]!r}.") from None


def _host(env: dict[str, str], name: str, default: str) -> str:
    """An IPv4 or IPv6 address (`::`, `[::1]`: app/ops/health.py binds both) or a host name."""
    value = _text(env, name) or default
    bracketed = value.startswith("[") and value.endswith("]")
    bare = value[1:-1] if bracketed else value
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    labels = bare.removesuffix(".").split(".")
    if address is not None:
        usable = address.version == 6 or not bracketed
    else:  # a name: letters, digits, "-" and "_" in dot-separated labels, and not all digits at the end
        usable = (not bracketed and len(bare) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
                  and not labels[-1].isdigit())
    if not usable:
        raise ConfigurationError(f"{name} must be an address or host name such as 127.0.0.1, not {value[:40]!r}.")
    return value


def _replica_url(env: dict[str, str]) -> str | None:
    from app.replicate.litestream import check_replica_url

    raw = _text(env, "LITESTREAM_REPLICA_URL")
    return check_replica_url(raw) if raw else None


def _shards(env: dict[str, str]) -> tuple[tuple[int, ...] | None, int | None]:
    raw_ids = env.get("SHARD_IDS", "").strip()
    raw_count = env.get("SHARD_COUNT", "").strip().lower()
    count = None if raw_count in ("", "auto") else _int(env, "SHARD_COUNT", None, minimum=1, maximum=MAX_SHARDS)
    if not raw_ids:
        return None, count
    if count is None:
        raise ConfigurationError("SHARD_IDS needs SHARD_COUNT set to a number (the same in every process).")
    ids = parse_shard_ids(raw_ids)
    ShardBlock(frozenset(ids), count)  # ids below the count
    return ids, count


def utf8_text(path: Path, named: str) -> str:
    """The text of `path` (a UTF-8 byte order mark dropped), for files an operator writes (`.env`, scripts).

    Raises:
        ConfigurationError: the file cannot be read, or is not UTF-8 (`named`, then the line, in one sentence).
    """
    try:
        data = path.read_bytes()
        return data.decode("utf-8-sig")
    except OSError as error:
        raise ConfigurationError(f"{named} cannot be read ({error.strerror or error}).") from None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigurationError(f"{named} is not UTF-8 text (line {line}); save it as UTF-8 and run it again.") \
            from None


def _load_dotenv(path: Path) -> None:
    """Fill what the environment leaves unset from `path`, if it is a file (the environment wins).

    Raises:
        ConfigurationError: the file cannot be read, is not UTF-8 text, or has a line that is not NAME=value
            (python-dotenv would skip that line with a warning of its own).
    """
    if os.environ.get("PYTHON_DOTENV_DISABLED", "").casefold() in {"1", "true", "t", "yes", "y"} \
            or not path.is_file():
        return
    text = utf8_text(path, str(path))
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:  # its text is not shown: it may hold a token
            raise ConfigurationError(f"{path} line {binding.original.line} is not NAME=value "
                                     "(or a # comment); correct it and run again.")
    load_dotenv(stream=io.StringIO(text), override=False)


def load_settings(env: dict[str, str] | None = None, *, dotenv_path: Path | None = None) -> Settings:
    """Read settings from `env` (default: the process environment, after loading `.env`).

    Raises:
        ConfigurationError: a variable holds a value that cannot be used.
    """
    if env is None:
        _load_dotenv(dotenv_path or Path(".env"))
        env = dict(os.environ)
    d = Settings()
    _choice(env, "GUILDSHELF_SQLITE", "auto", SQLITE_ENGINES)  # used at import (app/engine.py); refused here
    shards = _shards(env)
    return Settings(
        discord_token=_text(env, "DISCORD_TOKEN") or None,
        guild_dbs_dir=Path(_text(env, "GUILD_DBS_DIR") or d.guild_dbs_dir),
        legacy_db=Path(_text(env, "LEGACY_DB") or d.legacy_db),
        home_guild_id=_int(env, "HOME_GUILD_ID", None, minimum=1, maximum=MAX_SNOWFLAKE - 1),
        max_open_guild_dbs=_int(env, "MAX_OPEN_GUILD_DBS", None, minimum=1, maximum=100_000)
        or default_max_open(),
        retention_days=_int(env, "RETENTION_DAYS", d.retention_days, minimum=0, maximum=36_500) or 0,
        anilist_url=_url(env, "ANILIST_URL", d.anilist_url),
        steam_api_key=_text(env, "STEAM_API_KEY") or None,
        steam_api_url=_url(env, "STEAM_API_URL", d.steam_api_url),
        log_level=_choice(env, "LOG_LEVEL", d.log_level, LOG_LEVELS),
        legacy_keep_days=_int(env, "LEGACY_KEEP_DAYS", d.legacy_keep_days, minimum=0, maximum=36_500) or 0,
        max_guild_db_mb=_int(env, "MAX_GUILD_DB_MB", d.max_guild_db_mb, minimum=1, maximum=1_000_000)
        or d.max_guild_db_mb,
        metrics_port=_int(env, "METRICS_PORT", None, minimum=1, maximum=65_535),
        metrics_host=_host(env, "METRICS_HOST", d.metrics_host),
        rate_member=_rate(env, "RATE_MEMBER", d.rate_member),
        rate_guild=_rate(env, "RATE_GUILD", d.rate_guild),
        log_format=_choice(env, "LOG_FORMAT", d.log_format, LOG_FORMATS).lower(),
        anilist_rate_per_min=_int(env, "ANILIST_RATE_PER_MIN", d.anilist_rate_per_min, minimum=1, maximum=90)
        or d.anilist_rate_per_min,
        stats_ttl_hours=_int(env, "STATS_TTL_HOURS", d.stats_ttl_hours, minimum=0, maximum=24 * 365) or 0,
        xp_cooldown_seconds=_int(env, "XP_COOLDOWN_SECONDS", d.xp_cooldown_seconds, minimum=0, maximum=86_400) or 0,
        shard_ids=shards[0],
        shard_count=shards[1],
        backup_retention_days=_int(env, "BACKUP_RETENTION_DAYS", d.backup_retention_days, minimum=0,
                                   maximum=36_500) or 0,
        litestream_replica_url=_replica_url(env),
        guild_cache_policy=_choice(env, "GUILD_CACHE_POLICY", d.guild_cache_policy, CACHE_POLICIES).lower(),
        guild_file_creation=_choice(env, "GUILD_FILE_CREATION", d.guild_file_creation, FILE_CREATION).lower(),
    )
