"""The hot-path cache: a hit near expiry reloads in the background (the caller gets the cached
value at once), concurrent misses share one load, a failed load is not cached."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bridge.refresh_cache import RefreshAheadCache


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.value = "v1"
        self.gate = threading.Event()
        self.gate.set()

    def load(self, key: str) -> str:
        self.calls += 1
        self.gate.wait(5)
        if self.value == "boom":
            raise RuntimeError("source down")
        return f"{key}:{self.value}"


async def test_refreshes_ahead_without_making_the_caller_wait() -> None:
    source = Source()
    cache: RefreshAheadCache[str, str] = RefreshAheadCache(0.5, source.load)
    assert await cache.get("k") == "k:v1"
    assert await cache.get("k") == "k:v1" and source.calls == 1  # a fresh hit loads nothing
    await asyncio.sleep(0.42)  # into the last fifth of the entry's life
    source.value, source.gate = "v2", threading.Event()  # the reload blocks until released
    assert await cache.get("k") == "k:v1"  # answered from the cache, reload started
    await asyncio.sleep(0.05)
    assert source.calls == 2 and await cache.get("k") == "k:v1"  # still loading: no wait
    source.gate.set()
    for _ in range(100):
        if await cache.get("k") == "k:v2":
            break
        await asyncio.sleep(0.01)
    assert await cache.get("k") == "k:v2" and source.calls == 2


async def test_concurrent_misses_share_one_load_and_failures_are_not_cached() -> None:
    source = Source()
    cache: RefreshAheadCache[str, str] = RefreshAheadCache(5.0, source.load)
    assert await asyncio.gather(*(cache.get("k") for _ in range(20))) == ["k:v1"] * 20
    assert source.calls == 1
    source.value = "boom"
    with pytest.raises(RuntimeError):
        await cache.get("other")
    source.value = "v3"
    assert await cache.get("other") == "other:v3"  # the failure was not remembered
