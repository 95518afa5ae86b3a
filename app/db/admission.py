"""W-TinyLFU: an admission filter in front of the manager's connection cache.

A new key always enters a small LRU *window*. When the window is full, its least recently used
key (the candidate) moves on to the *main* cache (a segmented LRU: probation, then protected once
used again there) if it has room; if not, the candidate competes with the main cache's victim (the
least recently used key on probation) and the one a frequency sketch says was used less often is
evicted. So a burst of one-off keys passes through the window without pushing out a working set,
and a key that was busy once is forgotten as the sketch ages (every counter halved after
`10 × capacity` recorded uses). After Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient
Cache Admission Policy" (2017), and Caffeine's design, without its adaptive window.

Every use counts once in the sketch: a hit (`get`, `cache[key]`), or the insertion that follows a
miss. Evictions go through `on_evict(key, value)`, called before the operation that caused them
returns; `pop` and `del` remove a key without calling it (as cachetools' `popitem` hook).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Generic, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

_M64 = (1 << 64) - 1
_SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)  # odd 64-bit
_HALVE = bytes(b >> 1 for b in range(256))
COUNTER_MAX = 15  # 4-bit counters (one per byte here: halving is a single bytes.translate)


class FrequencySketch:
    """A count-min sketch of 4-bit saturating counters, four rows, halved every `sample_size` uses."""

    __slots__ = ("_shift", "_table", "_width", "additions", "sample_size")

    def __init__(self, capacity: int, *, sample_size: int | None = None) -> None:
        width = 16
        while width < 4 * capacity:  # 16 counters per cached key in all, as Caffeine's sketch
            width *= 2
        self._width = width
        self._shift = 64 - (width.bit_length() - 1)
        self._table = bytearray(4 * width)
        self.sample_size = sample_size if sample_size is not None else 10 * max(capacity, 1)
        self.additions = 0

    def _slots(self, key: Hashable) -> tuple[int, int, int, int]:
        h = (hash(key) * 0x9E3779B97F4A7C15) & _M64
        h ^= h >> 31
        shift, width = self._shift, self._width
        return (((h * _SEEDS[0]) & _M64) >> shift, width + (((h * _SEEDS[1]) & _M64) >> shift),
                2 * width + (((h * _SEEDS[2]) & _M64) >> shift), 3 * width + (((h * _SEEDS[3]) & _M64) >> shift))

    def increment(self, key: Hashable) -> None:
        table = self._table
        for i in self._slots(key):
            if table[i] < COUNTER_MAX:
                table[i] += 1
        self.additions += 1
        if self.additions >= self.sample_size:
            self.age()

    def estimate(self, key: Hashable) -> int:
        table = self._table
        return min(table[i] for i in self._slots(key))

    def age(self) -> None:
        """Halve every counter (and the count of uses since), so that old popularity fades."""
        self._table = bytearray(self._table.translate(_HALVE))
        self.additions //= 2


class WindowTinyLFU(MutableMapping[K, V], Generic[K, V]):
    """A bounded mapping: an LRU window, then TinyLFU admission into a segmented LRU.

    `window` is the window's share of `maxsize` (at least one entry); 80 % of the rest is the
    protected segment, as in Caffeine. `len(cache) <= maxsize` after every operation.
    """

    def __init__(self, maxsize: int, *, window: float = 0.01,
                 on_evict: Callable[[K, V], None] | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        if not 0 <= window <= 1:
            raise ValueError("window must be a share of maxsize, 0 to 1")
        self.maxsize = maxsize
        self.window_size = max(1, round(maxsize * window))
        self.main_size = maxsize - self.window_size
        self.protected_size = int(self.main_size * 0.8)
        self.sketch = FrequencySketch(maxsize)
        self._on_evict = on_evict
        self._window: OrderedDict[K, V] = OrderedDict()
        self._probation: OrderedDict[K, V] = OrderedDict()
        self._protected: OrderedDict[K, V] = OrderedDict()

    # -- lookups: each counts as a use ------------------------------------------------
    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, default: V | D, /) -> V | D: ...

    def get(self, key: K, default: V | D | None = None) -> V | D | None:
        value: V
        if key in self._window:
            self._window.move_to_end(key)
            value = self._window[key]
        elif key in self._protected:
            self._protected.move_to_end(key)
            value = self._protected[key]
        elif key in self._probation:
            value = self._promote(key)
        else:
            return default
        self.sketch.increment(key)
        return value

    def __getitem__(self, key: K) -> V:
        if key not in self:
            raise KeyError(key)
        return self.get(key)  # type: ignore[return-value]  # present: never the default

    def __setitem__(self, key: K, value: V) -> None:
        for segment in (self._window, self._protected, self._probation):
            if key in segment:
                segment[key] = value
                self.get(key)
                return
        self.sketch.increment(key)
        self._window[key] = value
        if len(self._window) > self.window_size:
            self._admit(*self._window.popitem(last=False))

    # -- removal without the hook ----------------------------------------------------
    def __delitem__(self, key: K) -> None:
        for segment in (self._window, self._probation, self._protected):
            if key in segment:
                del segment[key]
                return
        raise KeyError(key)

    @overload
    def pop(self, key: K, /) -> V: ...
    @overload
    def pop(self, key: K, default: V | D, /) -> V | D: ...

    def pop(self, key: K, *default: V | D) -> V | D:
        """Remove the key and return its value (not a use, not an eviction: no hook)."""
        for segment in (self._window, self._probation, self._protected):
            if key in segment:
                return segment.pop(key)
        if default:
            return default[0]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._window or key in self._probation or key in self._protected

    def __iter__(self) -> Iterator[K]:
        yield from list(self._window)
        yield from list(self._probation)
        yield from list(self._protected)

    def __len__(self) -> int:
        return len(self._window) + len(self._probation) + len(self._protected)

    def segment_of(self, key: K) -> str | None:
        """'window', 'probation', 'protected' or None (for tests and diagnostics; not a use)."""
        for name, segment in (("window", self._window), ("probation", self._probation),
                              ("protected", self._protected)):
            if key in segment:
                return name
        return None

    # -- the policy ----------------------------------------------------------------------
    def _promote(self, key: K) -> V:
        """A hit on probation: to protected; protected's overflow goes back to probation."""
        value = self._protected[key] = self._probation.pop(key)
        while len(self._protected) > self.protected_size:
            demoted, demoted_value = self._protected.popitem(last=False)
            self._probation[demoted] = demoted_value
        return value

    def _admit(self, candidate: K, value: V) -> None:
        """The window's least recently used moves on to the main cache, or competes with its victim."""
        if len(self._probation) + len(self._protected) < self.main_size:
            self._probation[candidate] = value
            return
        victims = self._probation or self._protected
        if not victims:  # no main cache at all (maxsize 1): the window is everything
            self._evicted(candidate, value)
            return
        victim = next(iter(victims))
        if self.sketch.estimate(candidate) > self.sketch.estimate(victim):
            self._evicted(victim, victims.pop(victim))
            self._probation[candidate] = value
        else:
            self._evicted(candidate, value)

    def _evicted(self, key: K, value: V) -> None:
        if self._on_evict is not None:
            self._on_evict(key, value)
