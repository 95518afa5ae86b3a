"""`python -m app backup` and `restore` (filled in below)."""
from __future__ import annotations

from typing import Any


def register(groups: dict[str, Any]) -> None:
    return None
