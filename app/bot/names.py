"""Names shown in replies: a member's display name, and stored names made inert (no markdown, no mentions)."""
from __future__ import annotations

import hikari

_MARKUP = set("*_~`|[]()<>@#\\")


def display_name(user: hikari.PartialUser) -> str:
    return (getattr(user, "display_name", None) or user.username or str(user.id))[:80]


def plain(text: str, limit: int = 64) -> str:
    """A stored name as text: markdown, link and mention characters dropped, bounded; "?" if nothing is left."""
    return "".join(c for c in text if c not in _MARKUP and c.isprintable())[:limit] or "?"
