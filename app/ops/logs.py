"""Logging for the process: the human format, or `LOG_FORMAT=json` (one object per line).

Commands set the context (guild, user, command) once, in the pipeline's first hook; every line logged
while that command runs carries it. Whatever the format, a Discord token is never written out.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("guild_id", "user_id", "command", "ref")
# a bot token: base64 user id . timestamp . HMAC (https://discord.com/developers/docs/reference#authentication)
TOKEN = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")
REDACTED = "[token redacted]"

_context: contextvars.ContextVar[tuple[tuple[str, object], ...]] = contextvars.ContextVar(
    "guildshelf_log_context", default=())


def set_context(**fields: object) -> contextvars.Token[tuple[tuple[str, object], ...]]:
    """Fields for every line logged from here on in this task (a command's run is one task)."""
    merged = dict(_context.get()) | {k: v for k, v in fields.items() if v is not None}
    return _context.set(tuple(merged.items()))


def reset_context(token: contextvars.Token[tuple[tuple[str, object], ...]]) -> None:
    _context.reset(token)


def redact(text: str) -> str:
    return TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Tokens never reach a log line, whoever logged them (a library's error, an exception's text).

    Anything shaped like a Discord token goes, and the configured secrets themselves, whatever their shape.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 8]

    def clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.clean(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then guild_id, user_id, command, ref when known, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        context = dict(_context.get())
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None) or context.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _Redacted(logging.Formatter):
    """The traceback too: an exception's text may quote a header or a URL with a secret in it."""

    def __init__(self, inner: logging.Formatter, redactor: RedactingFilter) -> None:
        super().__init__()
        self._inner, self._redactor = inner, redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.clean(self._inner.format(record))


def make_handler(log_format: str, stream: TextIO | None = None, *,
                 secrets: Iterable[str | None] = ()) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    redactor = RedactingFilter(secrets)
    inner = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(_Redacted(inner, redactor))
    handler.addFilter(redactor)
    return handler


def configure_logging(level: str, log_format: str, stream: TextIO | None = None, *,
                      secrets: Iterable[str | None] = ()) -> None:
    """The root logger's handler in the chosen format, at the chosen level; like `logging.basicConfig`,
    nothing changes if the root logger has handlers already (a test runner's capture)."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler(log_format, stream, secrets=secrets))
    root.setLevel(level)
