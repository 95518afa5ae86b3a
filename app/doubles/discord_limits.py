"""What Discord refuses in a message or a modal: lengths, counts, components, custom ids, files.

Limits from discord-api-docs (resources/message.mdx "Embed Limits", components/reference.mdx,
interactions/receiving-and-responding.mdx "Modal"). Each check returns form errors at the
body's paths; the route raises 50035 (or 50006 for an empty message, 40005 for a large file).
"""
from __future__ import annotations

from typing import Any

from app.doubles.discord_errors import (
    EMPTY_MESSAGE,
    TOO_LARGE,
    FormErrors,
    RestError,
    check_form,
    max_items,
    max_length,
)

Path = tuple[str | int, ...]
ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SELECTS = (3, 5, 6, 7, 8)
LINK_STYLE, PREMIUM_STYLE = 5, 6
EMBED_TOTAL = 6000


def _embed_text(embed: dict[str, Any]) -> int:
    fields = embed.get("fields") or []
    parts = [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text"),
             (embed.get("author") or {}).get("name"),
             *(f.get("name") for f in fields), *(f.get("value") for f in fields)]
    return sum(len(str(p)) for p in parts if p)


def check_embeds(errors: FormErrors, path: Path, embeds: list[dict[str, Any]]) -> None:
    max_items(errors, path, embeds, 10)
    for i, embed in enumerate(embeds[:10]):
        at = (*path, i)
        max_length(errors, (*at, "title"), embed.get("title"), 256)
        max_length(errors, (*at, "description"), embed.get("description"), 4096)
        max_length(errors, (*at, "footer", "text"), (embed.get("footer") or {}).get("text"), 2048)
        max_length(errors, (*at, "author", "name"), (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        max_items(errors, (*at, "fields"), fields, 25)
        for j, field in enumerate(fields):
            max_length(errors, (*at, "fields", j, "name"), field.get("name") or "", 256, minimum=1)
            max_length(errors, (*at, "fields", j, "value"), field.get("value") or "", 1024, minimum=1)
    if sum(_embed_text(e) for e in embeds) > EMBED_TOTAL:
        errors.append((path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL}"))


def _check_button(errors: FormErrors, at: Path, button: dict[str, Any]) -> None:
    max_length(errors, (*at, "label"), button.get("label"), 80)
    if button.get("style") == LINK_STYLE:
        if not button.get("url") or button.get("custom_id"):
            errors.append((at, "BUTTON_LINK_URL_REQUIRED", "A link button needs a url and no custom_id."))
    elif button.get("style") != PREMIUM_STYLE:
        max_length(errors, (*at, "custom_id"), button.get("custom_id") or "", 100, minimum=1)


def _check_select(errors: FormErrors, at: Path, select: dict[str, Any]) -> None:
    max_length(errors, (*at, "custom_id"), select.get("custom_id") or "", 100, minimum=1)
    max_length(errors, (*at, "placeholder"), select.get("placeholder"), 150)
    if select.get("type") == STRING_SELECT:
        options = select.get("options") or []
        max_items(errors, (*at, "options"), options, 25, minimum=1)
        for k, option in enumerate(options):
            max_length(errors, (*at, "options", k, "label"), option.get("label") or "", 100, minimum=1)
            max_length(errors, (*at, "options", k, "value"), option.get("value") or "", 100, minimum=1)
            max_length(errors, (*at, "options", k, "description"), option.get("description"), 100)


def check_components(errors: FormErrors, path: Path, rows: list[dict[str, Any]]) -> None:
    """≤ 5 action rows; a row holds 1–5 buttons or one select; custom ids 1–100 and unique in the message."""
    max_items(errors, path, rows, 5)
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = (*path, i)
        children = row.get("components") or []
        if row.get("type") != ACTION_ROW:
            errors.append((at, "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,)."))
            continue
        kinds = [c.get("type") for c in children]
        if any(k in SELECTS for k in kinds) and len(children) != 1:
            errors.append(((*at, "components"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                           "The specified component exceeds the maximum width"))
        max_items(errors, (*at, "components"), children, 5, minimum=1)
        for j, child in enumerate(children):
            (_check_select if child.get("type") in SELECTS else _check_button)(errors, (*at, "components", j), child)
            custom_id = child.get("custom_id")
            if custom_id and custom_id in seen:
                errors.append(((*at, "components", j, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED",
                               "Component custom id cannot be duplicated"))
            seen.add(custom_id or "")


def check_message(data: dict[str, Any], *, files: int, path: Path = (), edit: bool = False) -> None:
    """A message the bot sends (or, with edit=True, the fields it changes).

    Raises:
        RestError: 50035 with the paths of every broken limit, or 50006 for an empty message.
    """
    errors: FormErrors = []
    max_length(errors, (*path, "content"), data.get("content"), 2000)
    check_embeds(errors, (*path, "embeds"), list(data.get("embeds") or []))
    check_components(errors, (*path, "components"), list(data.get("components") or []))
    check_form(errors)
    has_something = (data.get("content") or data.get("embeds") or data.get("components") or files
                     or data.get("sticker_ids") or data.get("poll"))
    if not edit and not has_something:
        raise RestError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def check_modal(data: dict[str, Any], path: Path = ("data",)) -> None:
    """A modal: custom_id 1–100, title 1–45, 1–5 rows of one text input each, labels 1–45.

    Raises:
        RestError: 50035 with the paths of every broken limit.
    """
    errors: FormErrors = []
    max_length(errors, (*path, "custom_id"), data.get("custom_id") or "", 100, minimum=1)
    max_length(errors, (*path, "title"), data.get("title") or "", 45, minimum=1)
    rows = list(data.get("components") or [])
    max_items(errors, (*path, "components"), rows, 5, minimum=1)
    for i, row in enumerate(rows):
        inputs = row.get("components") or []
        at = (*path, "components", i, "components")
        max_items(errors, at, inputs, 1, minimum=1)
        for j, field in enumerate(inputs):
            if field.get("type") != TEXT_INPUT:
                errors.append(((*at, j, "type"), "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (4,)."))
            max_length(errors, (*at, j, "custom_id"), field.get("custom_id") or "", 100, minimum=1)
            max_length(errors, (*at, j, "label"), field.get("label") or "", 45, minimum=1)
            max_length(errors, (*at, j, "value"), field.get("value"), 4000)
            max_length(errors, (*at, j, "placeholder"), field.get("placeholder"), 100)
    check_form(errors)


def check_files(sizes: list[int], limit: int) -> None:
    """Raises:
        RestError: 40005 when a file is larger than the interaction's attachment_size_limit.
    """
    if any(size > limit for size in sizes):
        raise RestError(413, TOO_LARGE, "Request entity too large")
