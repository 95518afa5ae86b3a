"""Every operator command under hostile settings: exactly one sentence on stderr, a non-zero exit, no traceback."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db import GUILD_SCHEMA
from app.db.files import build_file

REPO = Path(__file__).resolve().parents[2]
SETTINGS = ("DISCORD_TOKEN", "GUILD_DBS_DIR", "LEGACY_DB", "HOME_GUILD_ID", "MAX_OPEN_GUILD_DBS", "RETENTION_DAYS",
            "ANILIST_URL", "STEAM_API_KEY", "STEAM_API_URL", "LOG_LEVEL", "LEGACY_KEEP_DAYS", "MAX_GUILD_DB_MB",
            "METRICS_PORT", "METRICS_HOST", "RATE_MEMBER", "RATE_GUILD", "LOG_FORMAT", "ANILIST_RATE_PER_MIN",
            "STATS_TTL_HOURS", "XP_COOLDOWN_SECONDS")
SECRET = "MTIzNDU2Nzg5.secret-token-never-shown"
STEAM_SECRET = "steam-key-never-shown"
# Every operator command, with the arguments it needs to get as far as the guild folder.
COMMANDS = {
    "guild list": ["guild", "list"],
    "guild info": ["guild", "info", "42"],
    "guild export": ["guild", "export", "42", "--out", "out.sqlite3"],
    "guild delete": ["guild", "delete", "42", "--yes"],
    "guild purge-expired": ["guild", "purge-expired"],
    "guild receipts": ["guild", "receipts"],
    "user export": ["user", "export", "7", "--out", "export"],
    "user forget": ["user", "forget", "7", "--yes"],
    "db migrate": ["db", "migrate"],
    "db check": ["db", "check"],
    "legacy retire": ["legacy", "retire", "--yes"],
    "global rebuild": ["global", "rebuild"],
}
# Before the first split there is no guild folder yet: these two accept a missing one (split creates it).
LEGACY = {"legacy status": ["legacy", "status"], "legacy split": ["legacy", "split"]}
GARBAGE = {
    "HOME_GUILD_ID": "١٢٣", "MAX_OPEN_GUILD_DBS": "lots", "RETENTION_DAYS": "9" * 30, "ANILIST_URL": "graphql",
    "STEAM_API_URL": "ftp://steam", "LOG_LEVEL": "verbose", "LEGACY_KEEP_DAYS": "soon", "MAX_GUILD_DB_MB": "0",
    "METRICS_PORT": "99999", "METRICS_HOST": "http://0.0.0.0", "RATE_MEMBER": "fast", "RATE_GUILD": "5 per 10s",
    "LOG_FORMAT": "xml", "ANILIST_RATE_PER_MIN": "fast", "STATS_TTL_HOURS": "-3", "XP_COOLDOWN_SECONDS": "1e3",
}


def _drop_file_permission_override() -> None:
    """In the child, before exec: root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH obeys file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_cli(cwd: Path, settings: dict[str, str], *args: str,
            obey_modes: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m app ARGS` from `cwd` (no .env there) with exactly these settings."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(settings, PYTHONPATH=str(REPO))
    drop = obey_modes and os.geteuid() == 0
    try:
        return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=60, preexec_fn=_drop_file_permission_override if drop else None)
    except subprocess.SubprocessError as error:
        if drop and "preexec_fn" in str(error):
            pytest.skip("root here cannot give up CAP_DAC_OVERRIDE, so no folder is unreadable to it")
        raise


def assert_one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """Non-zero exit, and stderr is exactly one line: a sentence, no traceback, no secret."""
    lines = result.stderr.splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert (line[:1].isupper() or line[:1].isdigit()) and line.endswith((".", "?")) and len(line) < 400, line
    assert "Traceback" not in line and "Error:" not in line and SECRET not in line and STEAM_SECRET not in line
    return line


@pytest.fixture
def folders(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """GUILD_DBS_DIR values that cannot work: a file, a folder that cannot be read, a missing folder."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "42.sqlite3").write_bytes(b"")
    locked.chmod(0)
    try:
        yield {"a file": a_file, "unreadable": locked, "missing": tmp_path / "no" / "such" / "folder"}
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("case", ["a file", "unreadable", "missing"])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_an_unusable_guild_folder_in_one_sentence(
        tmp_path: Path, folders: dict[str, Path], command: str, case: str) -> None:
    folder = folders[case]
    result = run_cli(tmp_path, {"GUILD_DBS_DIR": str(folder), "DISCORD_TOKEN": SECRET}, *COMMANDS[command],
                     obey_modes=case == "unreadable")
    line = assert_one_sentence(result)
    expected = {"a file": "is not a folder", "unreadable": "cannot be read", "missing": "does not exist"}[case]
    assert f"GUILD_DBS_DIR {folder} {expected}" in line
    assert not (tmp_path / "out.sqlite3").exists() and not (tmp_path / "export").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "locked"]  # nothing created


@pytest.mark.parametrize("command", ["guild info", "guild export", "guild delete", "user export", "user forget",
                                     "db migrate", "db check"])
def test_a_guild_file_that_cannot_be_read_fails_in_one_sentence(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "guild_dbs"
    folder.mkdir()
    build_file(folder / "42.sqlite3", GUILD_SCHEMA, 42)
    (folder / "42.sqlite3").chmod(0)
    result = run_cli(tmp_path, {"GUILD_DBS_DIR": str(folder)}, *COMMANDS[command], obey_modes=True)
    assert_one_sentence(result)
    assert (folder / "42.sqlite3").exists()


@pytest.mark.parametrize(("command", "case"), [("legacy status", "a file"), ("legacy split", "a file"),
                                             ("legacy status", "unreadable")])
def test_the_legacy_commands_refuse_a_folder_they_cannot_use_in_one_sentence(
        tmp_path: Path, folders: dict[str, Path], command: str, case: str) -> None:
    result = run_cli(tmp_path, {"GUILD_DBS_DIR": str(folders[case])}, *LEGACY[command],
                     obey_modes=case == "unreadable")
    line = assert_one_sentence(result)
    assert str(folders[case]) in line


def test_run_refuses_a_guild_folder_that_is_a_file(tmp_path: Path, folders: dict[str, Path]) -> None:
    line = assert_one_sentence(run_cli(tmp_path, {"GUILD_DBS_DIR": str(folders["a file"])}, "run"))
    assert line == f"GUILD_DBS_DIR {folders['a file']} is not a folder."


@pytest.mark.parametrize("command", [*COMMANDS, *LEGACY, "run", "sandbox"])
def test_every_command_refuses_garbage_in_every_setting_in_one_sentence(tmp_path: Path, command: str) -> None:
    (tmp_path / "guild_dbs").mkdir()
    settings = {"DISCORD_TOKEN": SECRET, "STEAM_API_KEY": STEAM_SECRET, "GUILD_DBS_DIR": "guild_dbs",
                "LEGACY_DB": "\x7f", **GARBAGE}
    line = assert_one_sentence(run_cli(tmp_path, settings, *{**COMMANDS, **LEGACY}.get(command, [command])))
    assert line.split()[0] in GARBAGE


@pytest.mark.parametrize(("name", "value"), [*GARBAGE.items(), ("MAX_OPEN_GUILD_DBS", "0"),
                                             ("MAX_OPEN_GUILD_DBS", str(10**12)), ("RETENTION_DAYS", "-1"),
                                             ("HOME_GUILD_ID", str(2**63)), ("LOG_LEVEL", "NOTSET"),
                                             ("ANILIST_URL", "http://"), ("LOG_LEVEL", "info\nDEBUG")])
def test_each_unusable_setting_is_named_in_one_sentence(tmp_path: Path, name: str, value: str) -> None:
    (tmp_path / "guild_dbs").mkdir()
    result = run_cli(tmp_path, {"GUILD_DBS_DIR": "guild_dbs", "DISCORD_TOKEN": SECRET, name: value},
                     "guild", "list")
    assert assert_one_sentence(result).startswith(f"{name} ")


def test_the_token_is_in_no_log_line_error_or_debug_traceback(tmp_path: Path, folders: dict[str, Path]) -> None:
    (tmp_path / "guild_dbs").mkdir()
    secrets = {"DISCORD_TOKEN": SECRET, "STEAM_API_KEY": STEAM_SECRET}
    runs = [
        run_cli(tmp_path, {**secrets, "GUILD_DBS_DIR": "guild_dbs", "LOG_LEVEL": "DEBUG"}, "db", "migrate"),
        run_cli(tmp_path, {**secrets, "GUILD_DBS_DIR": "guild_dbs", "LOG_LEVEL": "DEBUG"}, "guild", "info", "9"),
        run_cli(tmp_path, {**secrets, "GUILD_DBS_DIR": str(folders["a file"])}, "--debug", "guild", "list"),
        run_cli(tmp_path, {**secrets, "GUILD_DBS_DIR": "guild_dbs", "LOG_LEVEL": "loud"}, "--debug", "run"),
        run_cli(tmp_path, {**secrets, "GUILD_DBS_DIR": "guild_dbs", "RETENTION_DAYS": "x"}, "--debug", "db", "check"),
    ]
    output = "".join(r.stdout + r.stderr for r in runs)
    assert [r.returncode for r in runs] == [0, 1, 1, 1, 1]
    assert output.count("Traceback") == 3  # --debug shows the tracebacks: they are what is searched
    assert SECRET not in output and STEAM_SECRET not in output
