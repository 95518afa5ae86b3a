"""Fitting text into Discord's embed limits (a field's value holds at most 1,024 characters)."""
from __future__ import annotations

FIELD_VALUE_LIMIT = 1024


def fit_lines(lines: list[str], limit: int = FIELD_VALUE_LIMIT) -> str:
    """The lines joined by newlines; when they do not fit, as many as fit and "… and N more"."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for count, line in enumerate(lines):
        tail = f"… and {len(lines) - count - 1} more"
        if len("\n".join([*kept, line, tail])) > limit:
            break
        kept.append(line)
    return "\n".join([*kept, f"… and {len(lines) - len(kept)} more"])
