"""Which SQLite engine the bot uses: the platform's, or pysqlite3's bundled one where the platform's is too old.

SQLite before 3.51.3 has a WAL-reset bug that can corrupt a database when two connections write and
checkpoint one WAL file at the same time (the bot and an operator command, the bot and Litestream).
Where the standard library's SQLite is older, the `pysqlite3` wheel (same DB-API, SQLite bundled in
the extension) takes its place under the name `sqlite3` before any other module imports it, so every
`import sqlite3` of the bot gets one engine. Where no wheel installs, the platform's is kept with a
warning. GUILDSHELF_SQLITE=stdlib|pysqlite3|auto (default auto) forces a choice (CI runs both).
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

FIXED_IN = (3, 51, 3)  # the WAL-reset fix
ENV = "GUILDSHELF_SQLITE"
CHOICES = ("auto", "stdlib", "pysqlite3")


@dataclass(frozen=True, slots=True)
class Engine:
    name: str  # "sqlite3" (the standard library's) or "pysqlite3"
    sqlite_version: str
    library: str | None  # the shared object holding SQLite's C API when it is bundled (for ctypes)

    @property
    def has_wal_reset_fix(self) -> bool:
        return tuple(int(p) for p in self.sqlite_version.split(".")[:3]) >= FIXED_IN

    def __str__(self) -> str:
        fix = "" if self.has_wal_reset_fix else ", before the 3.51.3 WAL-reset fix"
        return f"SQLite {self.sqlite_version} ({self.name}{fix})"


def _bundled() -> ModuleType | None:
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        return None


def choose(choice: str, platform: ModuleType) -> ModuleType:
    """The DB-API module for `choice` ("auto": pysqlite3 only when the platform's SQLite lacks the fix).

    An unknown choice means "auto" here, silently: every command then refuses it in one sentence when it
    reads its settings (app/config.py), and a warning printed at import would come before that sentence.
    """
    if choice not in CHOICES:
        choice = "auto"
    if choice == "stdlib":
        return platform
    if choice == "auto" and tuple(int(p) for p in platform.sqlite_version.split(".")[:3]) >= FIXED_IN:
        return platform
    bundled = _bundled()
    if bundled is None:
        log.warning("SQLite %s lacks the 3.51.3 WAL-reset fix and pysqlite3 is not installed: keeping it "
                    "(pip install pysqlite3, or a Python linked against a newer SQLite)", platform.sqlite_version)
        return platform
    return bundled


def install() -> Engine:
    """Make `import sqlite3` give the chosen engine from now on; call before anything imports sqlite3."""
    current = sys.modules.get("sqlite3")
    if current is not None and current.__name__.startswith("pysqlite3"):
        return describe(current)
    platform = current or importlib.import_module("sqlite3")
    module = choose(os.environ.get(ENV, "auto").strip().lower() or "auto", platform)
    if module is not platform:
        sys.modules["sqlite3"] = module
        sys.modules["sqlite3.dbapi2"] = module
    return describe(module)


def describe(module: ModuleType | None = None) -> Engine:
    """The engine `import sqlite3` gives now (or `module`)."""
    module = module or importlib.import_module("sqlite3")
    if module.__name__.startswith("pysqlite3"):
        native = importlib.import_module("pysqlite3._sqlite3")
        return Engine("pysqlite3", module.sqlite_version, native.__file__)
    return Engine("sqlite3", module.sqlite_version, None)


def serialize(conn: Any) -> bytes:
    """The database as bytes: `Connection.serialize()`, or VACUUM INTO a temporary file where the
    engine lacks it (pysqlite3 0.6 follows the DB-API of Python 3.8)."""
    if hasattr(conn, "serialize"):
        return bytes(conn.serialize())
    with tempfile.TemporaryDirectory(prefix="guildshelf-image-") as folder:
        target = Path(folder) / "image.sqlite3"
        conn.execute("VACUUM INTO ?", (str(target),))
        return target.read_bytes()
