"""Open-file budget: each open WAL connection holds three descriptors (db, -wal, -shm)."""
from __future__ import annotations

import resource

from app.errors import ResourceLimitError

FDS_PER_CONNECTION = 3
HEADROOM = 256  # sockets, logs, the bot-wide file, evicted connections still in use
LIVE_SLACK = 32  # connections allowed beyond max_open while evicted ones finish closing
# The default MAX_OPEN_GUILD_DBS, by measurement (docs/storage.md, "Sizing MAX_OPEN_GUILD_DBS"): a
# 2,500-guild shard on a 1 GiB host, a third of it for connections at up to 0.37 MB each.
DEFAULT_MAX_OPEN = 1024


def default_max_open() -> int:
    """DEFAULT_MAX_OPEN, or fewer where the hard open-files limit cannot hold that many (never below 16)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return DEFAULT_MAX_OPEN
    return max(16, min(DEFAULT_MAX_OPEN, (hard - HEADROOM) // FDS_PER_CONNECTION - LIVE_SLACK))


def ensure_fd_budget(max_open: int) -> int:
    """Make sure `max_open` connections fit under RLIMIT_NOFILE, raising the soft limit if needed.

    Raises:
        ResourceLimitError: the hard limit is too low; the message names both numbers.
    """
    needed = (max_open + LIVE_SLACK) * FDS_PER_CONNECTION + HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return needed
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ResourceLimitError(
            f"MAX_OPEN_GUILD_DBS={max_open} needs about {needed} open files, but this process may "
            f"open at most {hard}: lower MAX_OPEN_GUILD_DBS or raise the limit (ulimit -n).")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed
