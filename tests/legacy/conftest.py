from __future__ import annotations

from pathlib import Path

import pytest

from app.legacy.testing import build_legacy_db
from tests.legacy.helpers import copy_legacy


@pytest.fixture(scope="session")
def plain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("legacy") / "plain.db"
    build_legacy_db(path, users=60, guilds=8, seed=3)
    return path


@pytest.fixture(scope="session")
def quirky_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("legacy") / "quirky.db"
    build_legacy_db(path, users=60, guilds=8, seed=4, quirks=True)
    return path


@pytest.fixture
def legacy(tmp_path: Path, plain_template: Path) -> Path:
    """A fresh copy of a small plain legacy database, in its own directory."""
    (tmp_path / "old").mkdir()
    return copy_legacy(plain_template, tmp_path / "old" / "database.db")


@pytest.fixture
def quirky(tmp_path: Path, quirky_template: Path) -> Path:
    (tmp_path / "old").mkdir()
    return copy_legacy(quirky_template, tmp_path / "old" / "database.db")
