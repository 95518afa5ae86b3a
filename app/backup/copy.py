"""One consistent copy of a live SQLite file, and what the manifest records of it."""
from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from app.rights.atomic import fsync_path


@dataclass(frozen=True, slots=True)
class Entry:
    """A file of a backup: its copy's size and SHA-256, and the source's state when it was copied."""

    name: str
    size: int
    sha256: str
    source: list[int]  # size and mtime_ns of the file and of its -wal: a change shows here
    copied_at: str  # ISO-8601 UTC; a live file modified after it is newer than the backup

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def source_signature(path: Path) -> list[int]:
    """Size and mtime of the file and its -wal (every committed write changes one of them)."""
    signature = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            st = candidate.stat()
        except FileNotFoundError:
            signature += [0, 0]
            continue
        # An empty -wal holds nothing: created by a reader or removed at a shutdown, it changes no data.
        signature += [st.st_size, st.st_mtime_ns] if st.st_size else [0, 0]
    return signature


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def online_copy(source: Path, target: Path) -> None:
    """Copy `source` while others keep writing it: SQLite's backup API in one read transaction.

    The copy is a single file (rollback journal mode, no -wal to carry), fsynced, written under a
    temporary name and renamed, so a crash never leaves half a copy under the real name.
    """
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # read-only: the copy never creates, writes or checkpoints the live file
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: every page in one step, one consistent snapshot
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)  # a source SQLite cannot read leaves no half copy behind
        raise
    finally:
        src.close()
    with partial.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(partial, target)
    with contextlib.suppress(OSError):
        fsync_path(target.parent)
