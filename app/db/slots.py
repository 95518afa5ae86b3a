"""The pieces the manager is made of: slots (one connection and its leases), leases, eviction policies."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import cachetools

from app.db.admission import WindowTinyLFU
from app.db.connection import GuildDb
from app.db.ids import validate_guild_id

if TYPE_CHECKING:
    from app.db.manager import GuildDatabaseManager

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ManagerStats:
    hits: int
    misses: int
    opens: int
    creates: int
    evictions: int
    closes: int
    open_now: int
    peak_open: int
    max_open: int
    open_seconds: float  # time spent opening (and building) files, on worker threads
    close_seconds: float
    virtual_opens: int = 0  # guilds with no file, opened as read-only copies (not counted in `opens`)


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


class Slot:
    """One open (or opening) connection of a guild and the leases on it."""

    __slots__ = ("closed", "closing", "db", "evicted", "guild_id", "leases", "ready")

    def __init__(self, guild_id: int, ready: asyncio.Future[GuildDb]) -> None:
        self.guild_id = guild_id
        self.ready = ready
        self.db: GuildDb | None = None
        self.leases = 0
        self.evicted = False
        self.closing = False  # its close is under way: a new lease waits for it, then opens anew
        self.closed = asyncio.get_running_loop().create_future()


class _RetireOnEvict:
    """cachetools evicts through the synchronous popitem(): mark the slot, close it later."""

    def __init__(self, maxsize: int, manager: GuildDatabaseManager) -> None:
        super().__init__(maxsize)  # type: ignore[call-arg]
        self._manager = manager

    def popitem(self) -> tuple[int, Slot]:
        guild_id, slot = super().popitem()  # type: ignore[misc]
        self._manager._retire(slot)
        return guild_id, slot


class _EvictingLRU(_RetireOnEvict, cachetools.LRUCache[int, Slot]):
    """The least recently used goes first (the default)."""


class _EvictingLFU(_RetireOnEvict, cachetools.LFUCache[int, Slot]):
    """The least frequently used goes first; measured against LRU in scripts/bench_storage.py."""


class _EvictingTinyLFU(WindowTinyLFU[int, Slot]):
    """W-TinyLFU (app/db/admission.py): a slot refused admission, or the victim it beat, is retired."""

    def __init__(self, maxsize: int, manager: GuildDatabaseManager) -> None:
        super().__init__(maxsize, on_evict=lambda _guild_id, slot: manager._retire(slot))


# the contract (ARCHITECTURE.md); "tinylfu" misses less in churn (GUILD_CACHE_POLICY, docs/storage.md)
DEFAULT_POLICY = "lru"

# The manager's cache: a mapping that retires (manager._retire) every slot it evicts to stay within maxsize.
POLICIES: dict[str, Callable[[int, GuildDatabaseManager], MutableMapping[int, Slot]]] = {
    "lru": _EvictingLRU, "lfu": _EvictingLFU, "tinylfu": _EvictingTinyLFU}


class Lease:
    """`async with manager.connect(guild_id) as db`: the connection stays open until released."""

    __slots__ = ("_guild_id", "_manager", "_slot")

    def __init__(self, manager: GuildDatabaseManager, guild_id: int) -> None:
        self._manager = manager
        self._guild_id = validate_guild_id(guild_id)
        self._slot: Slot | None = None

    async def __aenter__(self) -> GuildDb:
        self._slot, db = await self._manager._acquire(self._guild_id)
        return db

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._slot is not None:
            self._manager._release(self._slot)
            self._slot = None
