"""Ids shared by the end-to-end tests (the real bot against the Discord double)."""
from __future__ import annotations

GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222
ADMIN = 900_000_000_000_000_001
MEMBER = 900_000_000_000_000_002
