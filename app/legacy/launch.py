"""The split run by `python -m app run` before the bot connects, then the legacy file set aside.

Setting aside = `database.db` (with its `-wal`/`-shm`) becomes `database.db.split-<stamp>`,
kept, never deleted. The side files move with it: the backup already holds the WAL
content, but a `database.db.split-…` without its `-wal` would open as an older
database, and a `database.db-wal` left behind would be replayed into any new
`database.db` later. Renaming three files is not atomic, so each is hard-linked
to its new name first (side files, then the main file), and only then are the old
names removed (main file first): at every instant one complete set exists, and a
launch that finds side files orphaned by a kill removes them only if they are
the same files as a set-aside set's.
"""
from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from app.config import Settings
from app.errors import LegacySplitError
from app.legacy.backup import fsync_path, timestamp
from app.legacy.manifest import manifest_path, read_json
from app.legacy.report import SplitReport
from app.legacy.source import fingerprint
from app.legacy.splitter import SplitOptions, split_legacy
from app.rights.atomic import make_private

log = logging.getLogger(__name__)
SET_ASIDE_INFIX = ".split-"
_SIDES = ("-wal", "-shm", "-journal")
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV}


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        if not os.path.samefile(source, target):
            raise


def set_aside(legacy: Path, stamp: str | None = None) -> Path:
    """Give the legacy file and its side files the name `<name>.split-<stamp>`; returns it."""
    target = legacy.with_name(f"{legacy.name}{SET_ASIDE_INFIX}{stamp or timestamp()}")
    sides = [s for s in _SIDES if Path(f"{legacy}{s}").exists()]
    try:
        for suffix in [*sides, ""]:
            _link(Path(f"{legacy}{suffix}"), Path(f"{target}{suffix}"))
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        # no hard links here: rename, main file first; a kill between is finished at next launch
        for suffix in ["", *sides]:
            os.rename(f"{legacy}{suffix}", f"{target}{suffix}")
        fsync_path(legacy.parent, directory=True)
        _make_kept_private(target)
        return target
    fsync_path(legacy.parent, directory=True)
    legacy.unlink()
    for suffix in sides:
        Path(f"{legacy}{suffix}").unlink(missing_ok=True)
    fsync_path(legacy.parent, directory=True)
    _make_kept_private(target)
    return target


def _make_kept_private(target: Path) -> None:
    """The kept copy holds every member of every guild: readable by its owner only."""
    for suffix in ("", *_SIDES):
        if Path(f"{target}{suffix}").exists():
            make_private(Path(f"{target}{suffix}"))


def remove_orphaned_sides(legacy: Path) -> None:
    """Finish a set-aside killed half-way: side files left under the legacy name join the kept set.

    A side file that is the same file as the kept set's is removed; one the kept set lacks is moved
    to it; anything else is left alone.
    """
    if legacy.exists():
        return
    kept = sorted(p for p in legacy.parent.glob(f"{legacy.name}{SET_ASIDE_INFIX}*")
                  if not p.name.endswith(_SIDES))
    for suffix in _SIDES:
        side = Path(f"{legacy}{suffix}")
        for target in (Path(f"{k}{suffix}") for k in reversed(kept)):
            if side.exists() and target.exists() and os.path.samefile(side, target):
                side.unlink()
            elif side.exists() and not target.exists() and target.with_name(target.name[:-len(suffix)]).exists():
                os.rename(side, target)
    fsync_path(legacy.parent, directory=True)


def check_not_written_since(legacy: Path, out: Path) -> None:
    """The legacy file is as the split read it (a running old bot would have written to it since).

    Raises:
        LegacySplitError: it changed; nothing is set aside.
    """
    recorded = (read_json(manifest_path(out)) or {}).get("legacy_fingerprint")
    if recorded is not None and recorded != fingerprint(legacy):
        raise LegacySplitError(f"{legacy} changed while it was split (is the old bot still running?), so its "
                               "latest rows are not in the guild files; nothing was set aside: stop the old "
                               f"bot, move {out} aside and start again.")


def is_empty(legacy: Path) -> bool:
    """0 bytes and nothing in a -wal: what `touch` or an SQLite shell opened by mistake leaves, which SQLite reads
    as an empty database (a 0-byte file beside a non-empty -wal may hold everything: not empty). A -journal
    beside a 0-byte file changes nothing: it holds the pages to put back, and a file of 0 bytes had none (SQLite
    never truncates a database to 0 bytes itself)."""
    return all(not Path(f"{legacy}{suffix}").exists() or Path(f"{legacy}{suffix}").stat().st_size == 0
               for suffix in ("", "-wal"))


def pending_split(settings: Settings) -> Path | None:
    """The legacy file the next `run` would split into `GUILD_DBS_DIR` (None: nothing waits for a split, or a
    split of this very file is recorded there, which makes the next one change nothing). A split recorded of
    another file (or of this one before it was written to) leaves its rows in no guild file: still pending."""
    legacy = settings.legacy_db
    if not legacy.exists() or is_empty(legacy):
        return None
    recorded = read_json(manifest_path(settings.guild_dbs_dir))
    if recorded is not None and recorded.get("legacy_fingerprint") in (None, fingerprint(legacy)):
        return None
    return legacy


def split_at_launch(settings: Settings) -> SplitReport | None:
    """Split `LEGACY_DB` into `GUILD_DBS_DIR` if it exists and is not split yet, then set it aside.

    Returns None when there is no legacy file (none configured, or split and set aside before), or an empty one
    (0 bytes, left as it is, with a warning).

    Raises:
        LegacySplitError: the split could not be done; the legacy file and the guild folder
            are as they were, and the message says why.
    """
    legacy = settings.legacy_db
    remove_orphaned_sides(legacy)
    if not legacy.exists():
        return None
    if is_empty(legacy):
        log.warning("%s is empty (0 bytes): nothing to split; it is left as it is (delete it, or point LEGACY_DB "
                    "elsewhere, to silence this)", legacy)
        return None
    report = split_legacy(SplitOptions(legacy, settings.guild_dbs_dir, settings.home_guild_id))
    check_not_written_since(legacy, settings.guild_dbs_dir)
    try:
        kept = set_aside(legacy)
    except OSError as error:
        raise LegacySplitError(f"The legacy database was split, but {legacy} could not be renamed "
                               f"({error.strerror}); rename it yourself or start again.") from error
    log.info("legacy database split (%s); kept as %s", report.status, kept.name)
    report.message += f" The legacy file is kept as {kept.name}."
    return report
