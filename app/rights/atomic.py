"""Files written under a temporary name and renamed: a crash never leaves half of one under the real name.

And private: everything holding members' data is created 0600 in 0700 folders, whatever the umask
(another local user of the machine must not read any server's data).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from app.errors import AlreadyExistsError

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700 folders; an existing folder keeps its mode."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def make_private(path: Path) -> None:
    """Restrict an existing file to its owner (0600)."""
    os.chmod(path, FILE_MODE)


@contextmanager
def private_file(path: Path, *, exclusive: bool = True) -> Iterator[BinaryIO]:
    """Open `path` for writing, created 0600 (an existing file is refused unless not `exclusive`)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        yield out


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's) content and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_output(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it is synced and renamed to `target`.

    Raises:
        AlreadyExistsError: `target` exists and `overwrite` is false (nothing is written).
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise AlreadyExistsError(f"{target} exists already; choose another name or remove it first.")
    private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))  # 0600 before any byte
        yield tmp
        make_private(tmp)  # a writer that replaced the file (sqlite, zipfile) used the umask
        fsync_path(tmp)
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if `target` appeared meanwhile: never clobber
        fsync_path(target.parent)
    except FileExistsError:
        raise AlreadyExistsError(f"{target} appeared while the export was written; nothing "
                                 "was overwritten.") from None
    finally:
        tmp.unlink(missing_ok=True)
