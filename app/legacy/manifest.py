"""The split's records in the output directory: staging state, commit record, manifest.

- `.legacy-split/` (staging): the files being built, and `state.json` naming the
  backup in use, so a rerun after a kill reuses it;
- `.legacy-split/commit.json`: written once every staged file is complete and
  synced; from then on a rerun only finishes moving files into place;
- `legacy-split-manifest.json`: written last; its presence means "split done".
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from app.errors import LegacySplitError
from app.legacy.backup import fsync_path
from app.rights.atomic import private_file

MANIFEST_NAME = "legacy-split-manifest.json"
STAGING_DIR = ".legacy-split"
STATE_NAME = "state.json"
COMMIT_NAME = "commit.json"
QUARANTINE_PREFIX = "legacy-quarantine-"


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON under a temporary name, sync it, rename it over `path`, sync the directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    with private_file(tmp) as raw, io.TextIOWrapper(raw, encoding="utf-8") as out:
        json.dump(payload, out, ensure_ascii=False, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent, directory=True)


def damaged_record(path: Path, detail: object) -> LegacySplitError:
    return LegacySplitError(f"The split record {path} is damaged ({str(detail)[:200]}), so nothing was changed: "
                            "look at it, then move it aside (with the files of that split) and run the split again.")


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None if there is none (a torn temp file is never read).

    Raises:
        LegacySplitError: the file is there but holds no JSON object (edited or damaged by hand).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise damaged_record(path, error) from error
    if not isinstance(data, dict):
        raise damaged_record(path, "not a JSON object")
    return data


def manifest_path(out_dir: Path) -> Path:
    return out_dir / MANIFEST_NAME


def staging_dir(out_dir: Path) -> Path:
    return out_dir / STAGING_DIR


def quarantine_name(stamp: str) -> str:
    return f"{QUARANTINE_PREFIX}{stamp}.sqlite3"
