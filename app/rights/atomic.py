"""Files written under a temporary name and renamed: a crash never leaves half of one under the real name."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import AlreadyExistsError


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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        yield tmp
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
