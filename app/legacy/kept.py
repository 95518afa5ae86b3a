"""What the split leaves beside the guild files: the set-aside legacy database, its backups, quarantine files.

The set-aside copy (`database.db.split-<stamp>`) and the split's backups
(`database.db.backup-<stamp>`) hold every member and every guild. They are kept
`LEGACY_KEEP_DAYS` after a verified split (to check the split by hand, or to redo it),
then retired: removed with their `-wal`/`-shm`/`-journal`, with a receipt. Until then,
erasure and deletion reach them (app/legacy/erasure.py), as they reach the quarantine
files, which are never retired (they hold the rows no guild file took).

Everything is found from the manifest in the guild folder, which names the legacy file.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from app.legacy.backup import BACKUP_INFIX, fsync_path
from app.legacy.manifest import QUARANTINE_PREFIX, manifest_path, read_json
from app.rights.atomic import private_dir, private_file

log = logging.getLogger(__name__)

SET_ASIDE_INFIX = ".split-"
SIDES = ("-wal", "-shm", "-journal")
RECEIPTS_DIR = "receipts"
Kind = Literal["set-aside", "backup", "quarantine"]


@dataclass(frozen=True, slots=True)
class KeptFile:
    path: Path
    kind: Kind
    size_bytes: int  # with its side files
    modified: datetime

    def age_days(self, now: datetime) -> float:
        return max(0.0, (now - self.modified).total_seconds() / 86400)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "size_bytes": self.size_bytes,
                "modified": self.modified.isoformat(timespec="seconds"),
                "age_days": round(self.age_days(now), 2)}


def _sized(path: Path, kind: Kind) -> KeptFile:
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", *SIDES) if Path(f"{path}{s}").exists())
    return KeptFile(path, kind, size, datetime.fromtimestamp(path.stat().st_mtime, UTC))


def split_record(root: Path) -> dict[str, Any] | None:
    """The manifest of the split into `root`, or None when there was none."""
    return read_json(manifest_path(root))


def _legacy_paths(root: Path, legacy: Path | None) -> list[Path]:
    record = split_record(root) or {}
    found = [Path(record["legacy"])] if record.get("legacy") else []
    if legacy is not None and legacy.resolve() not in [p.resolve() for p in found]:
        found.append(legacy)
    return found


def list_kept(root: Path, legacy: Path | None = None) -> list[KeptFile]:
    """Every set-aside legacy copy and split backup (of the manifest's legacy file, and of `legacy`)."""
    found: dict[Path, KeptFile] = {}
    for source in _legacy_paths(root, legacy):
        if not source.parent.is_dir():
            continue
        for infix, kind in ((SET_ASIDE_INFIX, "set-aside"), (BACKUP_INFIX, "backup")):
            for path in source.parent.glob(f"{source.name}{infix}*"):
                if not path.name.endswith(SIDES) and path.is_file():
                    found[path.resolve()] = _sized(path, kind)  # type: ignore[arg-type]
    return sorted(found.values(), key=lambda f: f.path.name)


def list_quarantine(root: Path) -> list[KeptFile]:
    """The split's quarantine files in the guild folder."""
    if not root.is_dir():
        return []
    return [_sized(p, "quarantine") for p in sorted(root.glob(f"{QUARANTINE_PREFIX}*.sqlite3"))]


def holding_data(root: Path) -> list[KeptFile]:
    """Every legacy-schema file that erasure and deletion must reach: kept copies and quarantine files."""
    return list_kept(root) + list_quarantine(root)


def retire_at(root: Path, keep_days: int) -> datetime | None:
    """When the kept copies are due for retirement (None: no verified split recorded)."""
    completed = (split_record(root) or {}).get("completed_at")
    if not completed:
        return None
    return datetime.fromisoformat(completed) + timedelta(days=keep_days)


def _remove(kept: KeptFile) -> None:
    for suffix in (*SIDES, ""):  # side files first: a -wal alone is never left under the name
        Path(f"{kept.path}{suffix}").unlink(missing_ok=True)


def retire(root: Path, files: list[KeptFile], *, requested_by: str, reason: str) -> Path | None:
    """Remove the kept copies for good (with their side files); returns the receipt written (None: nothing)."""
    if not files:
        return None
    for kept in files:
        _remove(kept)
    for parent in {k.path.parent for k in files}:
        fsync_path(parent, directory=True)
    receipt = {"scope": "legacy-copies", "requested_by": requested_by, "reason": reason,
               "deleted_at": datetime.now(UTC).isoformat(timespec="seconds"),
               "files": [{"name": k.path.name, "kind": k.kind, "bytes": k.size_bytes} for k in files],
               "bytes_deleted": sum(k.size_bytes for k in files)}
    folder = private_dir(root / RECEIPTS_DIR)
    target = folder / f"legacy-retired-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.json"
    with private_file(target) as out:
        out.write(json.dumps(receipt, indent=1).encode("utf-8"))
    log.info("retired %d kept legacy file(s): %s", len(files), ", ".join(k.path.name for k in files))
    return target


def retire_expired(root: Path, keep_days: int, *, now: datetime | None = None) -> list[KeptFile]:
    """Retire the kept copies once `keep_days` have passed since the verified split; returns what went."""
    due = retire_at(root, keep_days)
    if due is None or (now or datetime.now(UTC)) < due:
        return []
    files = list_kept(root)
    retire(root, files, requested_by="retention", reason=f"LEGACY_KEEP_DAYS ({keep_days}) after the split")
    return files
