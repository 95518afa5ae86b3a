"""Discord's REST error bodies: `{"code", "message"}`, and 50035 "Invalid Form Body" with its `errors` tree."""
from __future__ import annotations

from typing import Any

from aiohttp import web

UNKNOWN_GUILD, UNKNOWN_CHANNEL, UNKNOWN_MEMBER, UNKNOWN_MESSAGE = 10004, 10003, 10007, 10008
UNKNOWN_USER, UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION = 10013, 10015, 10062
ALREADY_ACKNOWLEDGED, TOO_LARGE, MISSING_ACCESS, EMPTY_MESSAGE = 40060, 40005, 50001, 50006
MISSING_PERMISSIONS, INVALID_WEBHOOK_TOKEN, INVALID_FORM_BODY = 50013, 50027, 50035
INVALID_INVITE = 50020

FormErrors = list[tuple[tuple[str | int, ...], str, str]]  # (path, code, message)


class RestError(Exception):
    """Raised in a route; answered with Discord's status and body."""

    def __init__(self, status: int, code: int, message: str, errors: FormErrors | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = error_tree(self.errors)
        return body

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status)


def error_tree(errors: FormErrors) -> dict[str, Any]:
    """`[(("embeds", 0, "title"), code, message)]` → `{"embeds": {"0": {"title": {"_errors": [...]}}}}`."""
    tree: dict[str, Any] = {}
    for path, code, message in errors:
        node = tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return tree


def invalid_form(errors: FormErrors) -> RestError:
    return RestError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def check_form(errors: FormErrors) -> None:
    """Raises:
        RestError: 50035 listing every problem, if there is any.
    """
    if errors:
        raise invalid_form(errors)


def max_length(errors: FormErrors, path: tuple[str | int, ...], value: object, limit: int,
               minimum: int = 0) -> None:
    """Discord's BASE_TYPE_MAX_LENGTH / BASE_TYPE_BAD_LENGTH for one string."""
    if value is None:
        return
    length = len(str(value))
    if length > limit and not minimum:
        errors.append((path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))
    elif minimum and not minimum <= length <= limit:
        errors.append((path, "BASE_TYPE_BAD_LENGTH", f"Must be between {minimum} and {limit} in length."))


def max_items(errors: FormErrors, path: tuple[str | int, ...], items: list[Any] | None, limit: int,
              minimum: int = 0) -> None:
    count = len(items or [])
    if count > limit and not minimum:
        errors.append((path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))
    elif minimum and not minimum <= count <= limit:
        errors.append((path, "BASE_TYPE_BAD_LENGTH", f"Must be between {minimum} and {limit} in length."))
