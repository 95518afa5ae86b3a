"""Text from members or AniList, made safe to quote back in a Discord message."""
from __future__ import annotations

_MARKDOWN = "\\`*_~|>#[]"
_ZWSP = "\u200b"


def shown(text: str, limit: int = 80) -> str:
    """Bounded, printable, markdown escaped and mentions broken (quoted text cannot reshape a message or ping)."""
    clean = "".join(ch for ch in text if ch.isprintable()).strip()
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    escaped = "".join("\\" + ch if ch in _MARKDOWN else ch for ch in clean)
    return escaped.replace("@", "@" + _ZWSP)
