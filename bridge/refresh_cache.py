"""A per-process cache for hot-path lookups (API keys, tenant trigger config): entries live
`ttl` seconds; a hit in the last fifth of its life starts a reload in the background, so a busy
entry never makes a request wait for SQL; concurrent misses share one load; loads run in a
worker thread so the event loop never blocks on SQL. A change at the source is seen within
`ttl` (a revoked key stops working within it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Cached entries are refreshed in the background during the last fifth of their life.
REFRESH_AHEAD = 0.2


def retrieve_failure(task: asyncio.Future[object]) -> None:
    """Done callback of background work nobody awaits: a failure is logged, not left as
    'exception was never retrieved'; the next caller tries again."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("background load failed", error=type(task.exception()).__name__)


class RefreshAheadCache(Generic[K, V]):
    def __init__(
        self, ttl: float, load: Callable[[K], V] | None = None, max_entries: int = 10_000
    ) -> None:
        self._load = load
        self.ttl = ttl
        self.max_entries = max_entries
        self._cache: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, load: Callable[[], V] | None = None) -> V:
        """The value for `key`, loaded by `load` if given (when the cache key is only a hash of
        what the load needs), else by the cache's own `load(key)`."""
        hit = self.get_cached(key, load)
        if hit is not None:
            return hit
        loading = self._loading.get(key) or self._load_soon(key, load)
        return await asyncio.shield(loading)

    def get_cached(self, key: K, load: Callable[[], V] | None = None) -> V | None:
        """The value when cached and fresh (starting its refresh ahead when due), else None:
        the hot path's hit costs no await. (None values are never cached by callers.)"""
        hit = self._cache.get(key)
        if hit is None:
            return None
        expires, value = hit
        now = time.monotonic()
        if expires <= now:
            return None
        if expires - now < self.ttl * REFRESH_AHEAD and key not in self._loading:
            self._load_soon(key, load).add_done_callback(retrieve_failure)
        return value

    def clear(self) -> None:
        self._cache.clear()

    def _load_soon(self, key: K, load: Callable[[], V] | None) -> asyncio.Future[V]:
        own = self._load
        if load is None and own is None:
            raise TypeError("RefreshAheadCache.get needs a load function")
        source = load or (lambda: own(key))  # type: ignore[misc]
        task = asyncio.ensure_future(asyncio.to_thread(source))
        self._loading[key] = task

        def done(finished: asyncio.Future[V]) -> None:
            self._loading.pop(key, None)
            if not finished.cancelled() and finished.exception() is None:
                self._remember(key, finished.result())

        task.add_done_callback(done)
        return task

    def _remember(self, key: K, value: V) -> None:
        now = time.monotonic()
        if len(self._cache) >= self.max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            while len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))  # oldest insertion first
        self._cache[key] = (now + self.ttl, value)
