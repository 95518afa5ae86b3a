"""LOG_FORMAT=json: one object per line with the command's context; no token or message content, ever."""
from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.config import load_settings
from app.errors import ConfigurationError
from app.ops.logs import REDACTED, make_handler, reset_context, set_context
from app.sandbox.harness import running_bot
from tests.e2e import ADMIN, GUILD_A

REALISTIC_TOKEN = "MTAxMjM0NTY3ODkwMTIzNDU2Nzg5.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@contextmanager
def captured(log_format: str, *, level: int = logging.INFO, secrets: tuple[str, ...] = ()) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = make_handler(log_format, stream, secrets=secrets)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_log_format_is_text_or_json() -> None:
    assert load_settings({}).log_format == "text"
    assert load_settings({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigurationError):
        load_settings({"LOG_FORMAT": "xml"})


def test_a_json_line_has_time_level_logger_message_and_the_context() -> None:
    with captured("json") as stream:
        token = set_context(guild_id=5, user_id=7, command="server info")
        try:
            logging.getLogger("app.test").warning("something %s", "happened", extra={"ref": "ab12cd34"})
            logging.getLogger("app.test").info("two\nlines")
        finally:
            reset_context(token)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "app.test"
    assert first["message"] == "something happened"
    assert (first["guild_id"], first["user_id"], first["command"], first["ref"]) == (5, 7, "server info", "ab12cd34")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["message"] == "two\nlines"  # one line of output all the same


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tokens_never_reach_a_log_line(log_format: str) -> None:
    with captured(log_format, secrets=("configured-secret-key",)) as stream:
        log = logging.getLogger("app.test")
        log.info("connecting with %s", REALISTIC_TOKEN)
        log.info("steam key configured-secret-key in a URL")
        try:
            raise RuntimeError(f"Authorization: Bot {REALISTIC_TOKEN}")
        except RuntimeError:
            log.exception("request failed")
    out = stream.getvalue()
    assert REALISTIC_TOKEN not in out and "configured-secret-key" not in out
    assert out.count(REDACTED) == 3  # the two messages and the exception's text


@pytest.mark.asyncio
async def test_a_failed_command_logs_one_json_line_with_guild_user_command_and_ref(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(db: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("app.extensions.server.fetch_guild_report", broken)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD_A]) as h:
        with captured("json", secrets=(h.double.token,)) as stream:
            reply = await h.command(GUILD_A, ADMIN, "server info", admin=True)
            await h.say(GUILD_A, ADMIN, "my secret reading list")
            await h.member_join(GUILD_A, ADMIN + 1)
        token = h.double.token
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    errors = [entry for entry in lines if entry["level"] == "ERROR"]
    ref = re.search(r"ref `([0-9a-f]{8})`", reply.content)

    assert ref is not None and len(errors) == 1
    assert errors[0]["ref"] == ref.group(1)
    assert (errors[0]["guild_id"], errors[0]["user_id"], errors[0]["command"]) == (GUILD_A, ADMIN, "server info")
    assert "my secret reading list" not in stream.getvalue()
    assert token not in stream.getvalue()
