"""Private temporary folders that hold copies of members' data, and the sweep of those a kill left behind.

The legacy split's reads and its dry run copy the legacy database (every member of every guild); a restore
copies a guild file to erase from it the members erased since the backup; the bot packs a guild's export
for Discord. No erasure reaches those copies, and a run killed with -9 cannot remove its own, so every run
that makes one, and the bot's launch, removes those that no live run holds: a folder is held by an exclusive
`flock` on its lock file for as long as it is used (the kernel drops it when the holder dies), and one
younger than a minute is never touched (it may be being made).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIXES = ("legacy-dry-run-", "legacy-read-", "guildshelf-restore-", "guildshelf-export-")
_LOCK = ".in-use"
_GRACE_S = 60.0


def _stale(folder: Path) -> bool:
    """Ours, not in use by a live run, and not being made."""
    st = folder.lstat()
    if not folder.is_dir() or folder.is_symlink() or st.st_uid != os.getuid() or time.time() - st.st_mtime < _GRACE_S:
        return False
    try:
        fd = os.open(folder / _LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return True  # made, never used: killed before it was locked
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def sweep_stale() -> None:
    """Remove the scratch folders that killed runs left in the temporary directory."""
    try:
        folders = [p for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(PREFIXES)]
    except OSError:
        return  # a TMPDIR one may write in but not list (mode 1733): folders are made there, none can be found
    for folder in folders:
        try:
            if _stale(folder):
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # another run's, or gone meanwhile


@contextmanager
def private_scratch(prefix: str, *, sweep: bool = True) -> Iterator[Path]:
    """A private (0700) temporary folder, held while in use, then removed (`sweep_stale` removes it after a kill).

    Those that killed runs left are swept first, unless `sweep` is False (an event loop sweeps in a thread first:
    the sweep lists all of TMPDIR and removes what it finds, a legacy copy can be gigabytes).
    """
    if not prefix.startswith(PREFIXES):
        raise ValueError(f"{prefix!r} is not a prefix the sweep knows")
    if sweep:
        sweep_stale()
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        fd = os.open(Path(name) / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield Path(name)
        finally:
            os.close(fd)
