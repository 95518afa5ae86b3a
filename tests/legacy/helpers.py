"""Helpers of the splitter tests."""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "split_legacy_db.py"
HOME = 897814031346319382


def snapshot(legacy: Path) -> dict[str, tuple[str, int, int] | None]:
    """Content hash, mtime and size of the legacy file and each side file (None: absent)."""
    out: dict[str, tuple[str, int, int] | None] = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{legacy}{suffix}")
        if path.exists():
            st = path.stat()
            out[suffix] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size)
        else:
            out[suffix] = None
    return out


def alter(path: Path, *statements: str) -> None:
    """Run `statements` on the legacy file in one transaction (a grader's hand edit)."""
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "legacy-split-manifest.json").read_text(encoding="utf-8"))


def copy_legacy(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target
