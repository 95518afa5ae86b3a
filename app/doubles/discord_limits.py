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
MAX_SELECTED, MAX_FILES, MAX_MENTIONS = 25, 10, 100
TEXT_INPUT_STYLES, TEXT_INPUT_MAX = (1, 2), 4000


def _number_range(errors: FormErrors, at: Path, value: int, low: int, high: int) -> None:
    if value < low:
        errors.append((at, "NUMBER_TYPE_MIN", f"Int value should be greater than or equal to {low}."))
    elif value > high:
        errors.append((at, "NUMBER_TYPE_MAX", f"Int value should be less than or equal to {high}."))


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
    """custom_id, placeholder; 0 ≤ min_values ≤ max_values ≤ 25 (and ≤ the options); options unique by value."""
    max_length(errors, (*at, "custom_id"), select.get("custom_id") or "", 100, minimum=1)
    max_length(errors, (*at, "placeholder"), select.get("placeholder"), 150)
    low, high = int(select.get("min_values", 1)), int(select.get("max_values", 1))
    _number_range(errors, (*at, "min_values"), low, 0, MAX_SELECTED)
    _number_range(errors, (*at, "max_values"), high, 1, MAX_SELECTED)
    if select.get("type") == STRING_SELECT:
        options = select.get("options") or []
        _check_options(errors, (*at, "options"), options)
        if options and high > len(options):
            errors.append(((*at, "max_values"), "SELECT_COMPONENT_MAX_VALUES_EXCEEDED",
                           "max_values cannot be greater than the number of options"))
        high = min(high, len(options))
    if low > high:
        errors.append(((*at, "min_values"), "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE",
                       "min_values cannot be greater than max_values or the number of options"))


def _check_options(errors: FormErrors, at: Path, options: list[dict[str, Any]]) -> None:
    max_items(errors, at, options, 25, minimum=1)
    values: set[str] = set()
    for k, option in enumerate(options):
        max_length(errors, (*at, k, "label"), option.get("label") or "", 100, minimum=1)
        max_length(errors, (*at, k, "value"), option.get("value") or "", 100, minimum=1)
        max_length(errors, (*at, k, "description"), option.get("description"), 100)
        if str(option.get("value")) in values:
            errors.append(((*at, k), "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                           "The specified option value is already used"))
        values.add(str(option.get("value")))


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


def _check_mentions(errors: FormErrors, at: Path, mentions: dict[str, Any] | None) -> None:
    """`parse: ["users"]` with a `users` list (or roles with `roles`) is refused; each list holds ≤ 100 ids."""
    if not mentions:
        return
    parse = mentions.get("parse") or []
    for kind in ("users", "roles"):
        listed = mentions.get(kind)
        if listed and kind in parse:
            errors.append((at, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                           f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.'))
        max_items(errors, (*at, kind), listed, MAX_MENTIONS)


def check_message(data: dict[str, Any], *, files: int, path: Path = (), edit: bool = False) -> None:
    """A message the bot sends (or, with edit=True, the fields it changes).

    Raises:
        RestError: 50035 with the paths of every broken limit, or 50006 for an empty message.
    """
    errors: FormErrors = []
    max_length(errors, (*path, "content"), data.get("content"), 2000)
    check_embeds(errors, (*path, "embeds"), list(data.get("embeds") or []))
    check_components(errors, (*path, "components"), list(data.get("components") or []))
    if max(files, len(data.get("attachments") or [])) > MAX_FILES:
        errors.append(((*path, "attachments"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."))
    _check_mentions(errors, (*path, "allowed_mentions"), data.get("allowed_mentions"))
    check_form(errors)
    has_something = (data.get("content") or data.get("embeds") or data.get("components") or files
                     or data.get("sticker_ids") or data.get("poll"))
    if not edit and not has_something:
        raise RestError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def check_modal(data: dict[str, Any], path: Path = ("data",)) -> None:
    """A modal: custom_id 1–100, title 1–45, 1–5 rows of one text input each (`_check_text_input`), unique ids.

    Raises:
        RestError: 50035 with the paths of every broken limit.
    """
    errors: FormErrors = []
    max_length(errors, (*path, "custom_id"), data.get("custom_id") or "", 100, minimum=1)
    max_length(errors, (*path, "title"), data.get("title") or "", 45, minimum=1)
    rows = list(data.get("components") or [])
    max_items(errors, (*path, "components"), rows, 5, minimum=1)
    seen: set[str] = set()
    for i, row in enumerate(rows):
        inputs = row.get("components") or []
        at = (*path, "components", i, "components")
        max_items(errors, at, inputs, 1, minimum=1)
        for j, field in enumerate(inputs):
            if field.get("type") != TEXT_INPUT:
                errors.append(((*at, j, "type"), "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (4,)."))
            _check_text_input(errors, (*at, j), field)
            if field.get("custom_id") in seen:
                errors.append(((*at, j, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED",
                               "Component custom id cannot be duplicated"))
            seen.add(str(field.get("custom_id")))
    check_form(errors)


def _check_text_input(errors: FormErrors, at: Path, field: dict[str, Any]) -> None:
    """custom_id 1–100, style 1 or 2, label 1–45, min_length 0–4000 ≤ max_length 1–4000, value, placeholder."""
    max_length(errors, (*at, "custom_id"), field.get("custom_id") or "", 100, minimum=1)
    if field.get("style") not in TEXT_INPUT_STYLES:
        errors.append(((*at, "style"), "UNION_TYPE_CHOICES", "Value of field \"style\" must be one of (1, 2)."))
    max_length(errors, (*at, "label"), field.get("label") or "", 45, minimum=1)
    low, high = field.get("min_length"), field.get("max_length")
    if low is not None:
        _number_range(errors, (*at, "min_length"), int(low), 0, TEXT_INPUT_MAX)
    if high is not None:
        _number_range(errors, (*at, "max_length"), int(high), 1, TEXT_INPUT_MAX)
    if low is not None and high is not None and int(low) > int(high):
        errors.append(((*at, "min_length"), "TEXT_INPUT_MIN_LENGTH_TOO_LARGE",
                       "min_length cannot be greater than max_length"))
    max_length(errors, (*at, "value"), field.get("value"), TEXT_INPUT_MAX)
    max_length(errors, (*at, "placeholder"), field.get("placeholder"), 100)


def check_files(sizes: list[int], limit: int) -> None:
    """Raises:
        RestError: 40005 when a file is larger than the interaction's attachment_size_limit.
    """
    if any(size > limit for size in sizes):
        raise RestError(413, TOO_LARGE, "Request entity too large")
