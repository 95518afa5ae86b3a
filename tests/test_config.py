from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.config import Settings, load_settings
from app.db.limits import DEFAULT_MAX_OPEN, default_max_open
from app.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_follow_the_configuration_table() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert (settings.guild_dbs_dir, settings.legacy_db) == (Path("guild_dbs"), Path("database.db"))
    assert (settings.retention_days, settings.log_level) == (30, "INFO")
    assert settings.max_open_guild_dbs == default_max_open()
    assert DEFAULT_MAX_OPEN == 1024  # the README's default, where the open-files limit allows it


def test_the_default_max_open_fits_a_low_open_files_limit() -> None:
    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        from app.config import load_settings
        from app.db.limits import ensure_fd_budget
        from app.config import Settings
        settings = load_settings({})
        assert Settings().max_open_guild_dbs == settings.max_open_guild_dbs
        ensure_fd_budget(settings.max_open_guild_dbs)  # the default always starts
        print(settings.max_open_guild_dbs, load_settings({"MAX_OPEN_GUILD_DBS": "2000"}).max_open_guild_dbs)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    # an explicit value is kept as it is: the manager refuses it at start with both numbers
    assert proc.stdout.split() == [str((1024 - 256) // 3 - 32), "2000"], proc.stderr


def test_every_variable_is_read() -> None:
    settings = load_settings({
        "DISCORD_TOKEN": "t", "GUILD_DBS_DIR": "/data/g", "LEGACY_DB": "/data/old.db", "HOME_GUILD_ID": "42",
        "MAX_OPEN_GUILD_DBS": "7", "RETENTION_DAYS": "0", "ANILIST_URL": "http://127.0.0.1:1/graphql",
        "STEAM_API_KEY": "k", "STEAM_API_URL": "http://127.0.0.1:2", "LOG_LEVEL": "debug"})
    assert settings == Settings("t", Path("/data/g"), Path("/data/old.db"), 42, 7, 0,
                                "http://127.0.0.1:1/graphql", "k", "http://127.0.0.1:2", "DEBUG")


@pytest.mark.parametrize(("name", "value"), [
    ("MAX_OPEN_GUILD_DBS", "many"), ("MAX_OPEN_GUILD_DBS", "0"), ("MAX_OPEN_GUILD_DBS", "100001"),
    ("MAX_OPEN_GUILD_DBS", "1_000"), ("RETENTION_DAYS", "-1"), ("RETENTION_DAYS", "36501"), ("RETENTION_DAYS", "--1"),
    ("HOME_GUILD_ID", "1; DROP"), ("HOME_GUILD_ID", "١٢٣"), ("HOME_GUILD_ID", str(2**63)), ("HOME_GUILD_ID", "+5"),
    ("GUILD_CACHE_POLICY", "lfu"), ("GUILD_CACHE_POLICY", "random"), ("GUILD_FILE_CREATION", "never"),
    ("LOG_LEVEL", "verbose"), ("LOG_LEVEL", "notset"), ("ANILIST_URL", "graphql.anilist.co"),
    ("ANILIST_URL", "http://"), ("STEAM_API_URL", "file:///etc/passwd"),
])
def test_unusable_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({name: value})
    assert caught.value.user_message.startswith(f"{name} must be ")
    assert "\n" not in caught.value.user_message


def test_the_cache_policy_is_lru_unless_tinylfu_is_asked_for() -> None:
    assert load_settings({}).guild_cache_policy == "lru"
    assert load_settings({"GUILD_CACHE_POLICY": " TinyLFU "}).guild_cache_policy == "tinylfu"


def test_files_are_created_at_first_use_unless_first_write_is_asked_for() -> None:
    assert load_settings({}).guild_file_creation == "first-use"
    assert load_settings({"GUILD_FILE_CREATION": "First-Write"}).guild_file_creation == "first-write"


def test_the_limits_themselves_are_accepted() -> None:
    settings = load_settings({"MAX_OPEN_GUILD_DBS": "100000", "RETENTION_DAYS": "36500",
                              "HOME_GUILD_ID": str(2**63 - 1), "LOG_LEVEL": " warning "})
    assert (settings.max_open_guild_dbs, settings.retention_days) == (100_000, 36_500)
    assert (settings.home_guild_id, settings.log_level) == (2**63 - 1, "WARNING")


def test_the_secrets_never_show_in_the_settings_repr() -> None:
    settings = load_settings({"DISCORD_TOKEN": "tok-123-secret", "STEAM_API_KEY": "steam-456-secret"})
    assert (settings.discord_token, settings.steam_api_key) == ("tok-123-secret", "steam-456-secret")
    assert "secret" not in repr(settings) and "secret" not in f"{settings}"
    assert "guild_dbs_dir=" in repr(settings)


def test_a_dotenv_file_fills_what_the_environment_leaves_unset(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "0")  # recorded, so that undo also removes what .env sets
    monkeypatch.delenv("RETENTION_DAYS")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    (tmp_path / ".env").write_text("RETENTION_DAYS=3\nLOG_LEVEL=ERROR\n")
    settings = load_settings(dotenv_path=tmp_path / ".env")
    assert (settings.retention_days, settings.log_level) == (3, "WARNING")


@pytest.mark.parametrize(("name", "value"), [
    ("ANILIST_URL", "http://[::1"), ("STEAM_API_URL", "http://]x"), ("LITESTREAM_REPLICA_URL", "s3://[x/p"),
    ("ANILIST_URL", "http://h:99999/"), ("ANILIST_URL", "http://h:abc/"), ("STEAM_API_URL", "http://h:0/"),
    ("ANILIST_URL", "http://exa mple.com"), ("ANILIST_URL", "https://x.test # comment"),
    ("STEAM_API_URL", "http://h\n/"), ("METRICS_HOST", "999.999.999.999"), ("METRICS_HOST", "'0.0.0.0'"),
    ("METRICS_HOST", "*"), ("METRICS_HOST", "-bad"), ("METRICS_HOST", "[127.0.0.1]"),
    ("LITESTREAM_REPLICA_URL", "file://relative/x"), ("LITESTREAM_REPLICA_URL", "file:///"),
    ("GUILDSHELF_SQLITE", "bogus"),
])
def test_values_that_would_fail_later_are_refused_now(name: str, value: str) -> None:
    # each of these used to pass, then fail at first use (after `run` had split the legacy database),
    # or escape as "Unexpected ValueError"
    with pytest.raises(ConfigurationError) as caught:
        load_settings({name: value})
    assert caught.value.user_message.startswith(f"{name} must be ")
    assert "\n" not in caught.value.user_message


@pytest.mark.parametrize("host", ["::", "::1", "[::1]", "[::]", "0.0.0.0", "localhost", "metrics.internal",
                                  "my_service", "fe80::1%eth0"])
def test_every_kind_of_listening_address_is_accepted(host: str) -> None:
    assert load_settings({"METRICS_HOST": f" {host} "}).metrics_host == host  # IPv6 too, as health.py binds it


def test_blank_values_mean_unset_and_surrounding_whitespace_is_dropped() -> None:
    names = ("LOG_LEVEL", "LOG_FORMAT", "GUILD_CACHE_POLICY", "GUILD_FILE_CREATION", "ANILIST_URL", "STEAM_API_URL",
             "METRICS_HOST", "GUILD_DBS_DIR", "LEGACY_DB", "DISCORD_TOKEN", "STEAM_API_KEY", "GUILDSHELF_SQLITE")
    assert load_settings(dict.fromkeys(names, " \t")) == Settings()  # a blank token is no token, not " "
    settings = load_settings({"DISCORD_TOKEN": " tok\r", "STEAM_API_KEY": "\tkey ", "GUILD_DBS_DIR": " /data/a b ",
                              "LEGACY_DB": " old.db\r"})
    assert (settings.discord_token, settings.steam_api_key) == ("tok", "key")
    assert (settings.guild_dbs_dir, settings.legacy_db) == (Path("/data/a b"), Path("old.db"))


def _dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes) -> Path:
    for name in ("RETENTION_DAYS", "LOG_LEVEL"):
        monkeypatch.setenv(name, "0")  # recorded, so that undo also removes what .env sets
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_bytes(content)
    return tmp_path / ".env"


def test_a_dotenv_file_with_a_bom_crlf_comments_and_quotes_is_read(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dotenv(tmp_path, monkeypatch, b'\xef\xbb\xbfRETENTION_DAYS=3 # days\r\nLOG_LEVEL="debug"\r\n')
    settings = load_settings(dotenv_path=path)
    assert (settings.retention_days, settings.log_level) == (3, "DEBUG")


@pytest.mark.parametrize(("content", "said"), [
    (b"RETENTION_DAYS=3\nthis is not a setting\n", "line 2"),
    ("RETENTION_DAYS=3\nLOG_LEVEL=d\u00e9bug\n".encode("latin-1"), "UTF-8"),
    ("RETENTION_DAYS=3\n".encode("utf-16"), "UTF-8"),
])
def test_an_unreadable_dotenv_file_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   content: bytes, said: str) -> None:
    path = _dotenv(tmp_path, monkeypatch, content)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(dotenv_path=path)
    assert caught.value.user_message.startswith(f"{path} ") and said in caught.value.user_message
    assert "\n" not in caught.value.user_message
    assert "RETENTION_DAYS" not in __import__("os").environ  # nothing of a refused file is applied


def test_a_bad_dotenv_line_is_refused_by_the_command_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / ".env").write_text("RETENTION_DAYS=3\nthis is not a setting\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "RETENTION_DAYS"}
    env.update(GUILD_DBS_DIR=str(tmp_path / "g"), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "app", "guild", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and ".env line 2" in proc.stderr, proc.stderr
