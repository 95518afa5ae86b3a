"""W-TinyLFU (app/db/admission.py) on its own: admission, aging, bounds, the eviction hook."""
from __future__ import annotations

import random

import cachetools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.db.admission import COUNTER_MAX, FrequencySketch, WindowTinyLFU


def _recording(maxsize: int, **kwargs: float) -> tuple[WindowTinyLFU[int, str], list[int]]:
    evicted: list[int] = []
    cache: WindowTinyLFU[int, str] = WindowTinyLFU(maxsize, on_evict=lambda k, _v: evicted.append(k), **kwargs)
    return cache, evicted


def _use(cache: WindowTinyLFU[int, str] | cachetools.LRUCache[int, str], key: int) -> bool:
    """A lookup as the manager does it: get, and on a miss insert. True on a hit."""
    if cache.get(key) is not None:
        return True
    cache[key] = f"v{key}"
    return False


def _scan_after_working_set(cache: WindowTinyLFU[int, str] | cachetools.LRUCache[int, str]) -> None:
    for _ in range(5):
        for key in range(1, 51):
            _use(cache, key)
    for key in range(1_000, 1_500):  # each used once: a crawl through many idle servers
        _use(cache, key)


def test_a_scan_of_one_off_keys_does_not_evict_the_working_set() -> None:
    cache, _ = _recording(100)
    _scan_after_working_set(cache)
    assert [_use(cache, key) for key in range(1, 51)] == [True] * 50


def test_the_same_scan_flushes_a_plain_lru() -> None:  # what the filter is for
    lru: cachetools.LRUCache[int, str] = cachetools.LRUCache(100)
    _scan_after_working_set(lru)
    assert not any(key in lru for key in range(1, 51))


@pytest.mark.parametrize(("policy", "hit_ratio"), [("tinylfu", (0.99, 1.0)), ("lru", (0.0, 0.01))])
def test_a_working_set_still_in_use_during_a_long_scan_stays(policy: str, hit_ratio: tuple[float, float]) -> None:
    cache = WindowTinyLFU[int, str](100) if policy == "tinylfu" else cachetools.LRUCache[int, str](100)
    working = list(range(1, 51))
    for _ in range(5):
        for key in working:
            _use(cache, key)
    hits: list[bool] = []
    for i, key in enumerate(range(10_000, 30_000)):  # 20,000 one-off keys, many times the sample size
        _use(cache, key)
        if i % 2 == 0:  # each working key used again every 100 of them (LRU: 149 others in between)
            hits.append(_use(cache, working[i // 2 % 50]))
    assert hit_ratio[0] <= sum(hits) / len(hits) <= hit_ratio[1]
    assert (policy == "tinylfu") == all(key in cache for key in working)


def test_a_new_key_is_always_served_and_a_refused_one_goes_through_the_hook() -> None:
    cache, evicted = _recording(10)
    for _ in range(3):
        for key in range(10):
            _use(cache, key)
    _use(cache, 99)
    assert cache.segment_of(99) == "window"  # the caller gets it
    _use(cache, 100)  # pushes 99 out of the window; rarer than the main cache's victim: refused
    assert 99 not in cache and evicted[-1] == 99
    assert cache.segment_of(100) == "window" and len(cache) == 10


def test_a_candidate_used_more_often_than_the_victim_is_admitted() -> None:
    cache, evicted = _recording(10)
    for key in range(10):
        _use(cache, key)
    for _ in range(5):
        cache.sketch.increment(99)  # used often before (the sketch remembers keys the cache lost)
    _use(cache, 99)
    _use(cache, 100)  # 99 leaves the window and beats probation's least recently used
    assert cache.segment_of(99) == "probation" and 99 not in evicted


def test_a_hit_on_probation_protects_and_protected_overflow_returns_to_probation() -> None:
    cache, _ = _recording(11, window=1 / 11)  # window 1, main 10: protected 8
    for key in range(11):
        _use(cache, key)
    assert cache.segment_of(0) == "probation"
    _use(cache, 0)
    assert cache.segment_of(0) == "protected"
    for key in range(1, 10):
        _use(cache, key)  # nine promotions into a protected segment of eight
    assert cache.segment_of(0) == "probation"  # its least recently used went back
    assert sum(cache.segment_of(k) == "protected" for k in cache) == cache.protected_size


def test_aging_halves_every_count() -> None:
    sketch = FrequencySketch(64, sample_size=1_000_000)
    often, seldom = 1_001, 2_002
    for _ in range(10):
        sketch.increment(often)
    for _ in range(3):
        sketch.increment(seldom)
    assert (sketch.estimate(often), sketch.estimate(seldom)) == (10, 3)
    sketch.age()
    assert (sketch.estimate(often), sketch.estimate(seldom)) == (5, 1)
    assert sketch.additions == 6


def test_aging_happens_by_itself_after_the_sample_size() -> None:
    sketch = FrequencySketch(1024, sample_size=40)
    busy_once = 10**6
    for _ in range(12):
        sketch.increment(busy_once)
    for key in range(27):
        sketch.increment(key)
    assert sketch.estimate(busy_once) == 12
    sketch.increment(27)  # the 40th recorded use
    assert sketch.estimate(busy_once) == 6
    assert sketch.additions == 20


def test_counters_saturate_at_four_bits() -> None:
    sketch = FrequencySketch(16, sample_size=1_000)
    for _ in range(100):
        sketch.increment(7)
    assert sketch.estimate(7) == COUNTER_MAX == 15
    assert sketch.estimate(8) <= COUNTER_MAX


@pytest.mark.parametrize("maxsize", [1, 2, 3, 10, 256])
def test_capacity_is_never_exceeded_and_every_key_that_leaves_is_accounted_for(maxsize: int) -> None:
    rng = random.Random(maxsize)
    cache, evicted = _recording(maxsize)
    present: set[int] = set()
    for step in range(20_000):
        key = int(rng.paretovariate(1.1)) if step % 3 else rng.randrange(10_000)
        roll = rng.random()
        if roll < 0.05 and key in cache:
            del cache[key]
            present.discard(key)
        elif roll < 0.1:
            assert cache.pop(key, None) == (f"v{key}" if key in present else None)
            present.discard(key)
        elif not _use(cache, key):
            present.add(key)
        present.difference_update(evicted)
        evicted.clear()
        assert len(cache) <= maxsize
        assert key in cache or roll < 0.1  # a key just used is always there
    assert set(cache) == present and len(list(cache)) == len(cache)


def test_maxsize_one_is_a_window_alone() -> None:
    cache, evicted = _recording(1)
    _use(cache, 1)
    _use(cache, 1)
    _use(cache, 2)
    assert list(cache) == [2] and evicted == [1]


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        WindowTinyLFU(0)
    with pytest.raises(ValueError, match="window"):
        WindowTinyLFU(10, window=1.5)


def test_getitem_counts_as_a_use_and_missing_keys_raise() -> None:
    cache, _ = _recording(4)
    cache[1] = "a"
    assert cache[1] == "a"
    assert cache.sketch.estimate(1) == 2  # the insertion and the hit
    with pytest.raises(KeyError):
        cache[2]
    with pytest.raises(KeyError):
        del cache[2]
    with pytest.raises(KeyError):
        cache.pop(2)
    before = cache.sketch.estimate(1)
    assert cache.pop(2, "none") == "none" and cache.pop(1) == "a" and cache.sketch.estimate(1) == before
    cache[1] = "a"
    cache[1] = "b"  # an update keeps one entry
    assert cache[1] == "b" and len(cache) == 1


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 20), st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["use", "pop"])), max_size=300))
def test_any_sequence_keeps_the_bounds(maxsize: int, steps: list[tuple[int, str]]) -> None:
    cache, _ = _recording(maxsize)
    for key, action in steps:
        if action == "pop":
            cache.pop(key, None)
        else:
            _use(cache, key)
            assert key in cache
        segments = [cache.segment_of(k) for k in cache]
        assert len(cache) == len(segments) <= maxsize
        assert segments.count("window") <= cache.window_size
        assert segments.count("protected") <= cache.protected_size
