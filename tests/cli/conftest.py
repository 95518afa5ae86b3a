"""Fixtures the command-line tests share."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.db.files import build_file
from app.db.schema import GUILD_SCHEMA


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A guild folder holding the files of guilds 41 and 42, empty."""
    root = tmp_path / "guild_dbs"
    root.mkdir()
    for guild_id in (41, 42):
        build_file(root / f"{guild_id}.sqlite3", GUILD_SCHEMA, guild_id)
    return root
