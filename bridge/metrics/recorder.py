"""In-process metric deltas, pushed to Redis in one pipeline.

Recording is a dict update under a lock: no I/O where requests and batches run. `flush` moves
the deltas to Redis with HINCRBYFLOAT (atomic per field), so any number of processes add into
the same totals. Histograms are stored as their cumulative bucket counts, `_sum` and `_count`.
A process that dies loses at most its unflushed deltas (about a second's worth on the web).
"""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from functools import lru_cache

import redis
import redis.asyncio as aioredis

from bridge.metrics.catalogue import Metric

COUNTERS_KEY = "bridge:metrics:v1:counters"
GAUGES_KEY = "bridge:metrics:v1:gauges"

Field = str  # JSON [series name, [[label, value], ...]]


def field_for(series: str, labels: dict[str, str]) -> Field:
    return _field(series, tuple(sorted(labels.items())))


@lru_cache(maxsize=16_384)
def _field(series: str, pairs: tuple[tuple[str, str], ...]) -> Field:
    # Label sets repeat (route x status): encode each once, not on every request.
    return json.dumps([series, pairs], separators=(",", ":"))


@lru_cache(maxsize=4_096)
def _histogram_fields(
    name: str, buckets: tuple[float, ...], pairs: tuple[tuple[str, str], ...]
) -> tuple[Field, Field, tuple[tuple[float, Field], ...]]:
    labels = dict(pairs)
    by_bound = tuple(
        (
            bound,
            field_for(
                name + "_bucket",
                {**labels, "le": "+Inf" if bound == math.inf else repr(float(bound))},
            ),
        )
        for bound in (*buckets, math.inf)
    )
    return field_for(name + "_count", labels), field_for(name + "_sum", labels), by_bound


def parse_field(field: str | bytes) -> tuple[str, dict[str, str]]:
    series, pairs = json.loads(field)
    return str(series), {str(k): str(v) for k, v in pairs}


_HistogramFields = tuple[Field, Field, tuple[tuple[float, Field], ...]]
_MAX_KNOWN = 16_384


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[Field, float] = defaultdict(float)
        self._gauges: dict[Field, float] = {}
        # (metric, label items as passed) -> encoded field(s): label sets repeat (route x
        # status), so each is checked and encoded once, not on every request.
        self._known: dict[tuple[object, ...], Field] = {}
        self._known_histograms: dict[tuple[object, ...], _HistogramFields] = {}

    def inc(self, metric: Metric, amount: float = 1.0, **labels: str) -> None:
        if amount <= 0 or math.isnan(amount):
            return
        key = (metric.name, *labels.items())
        field = self._known.get(key)
        if field is None:
            field = field_for(metric.name + "_total", _clean(metric, labels))
            if len(self._known) < _MAX_KNOWN:
                self._known[key] = field
        with self._lock:
            self._counters[field] += amount

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        key = (metric.name, *labels.items())
        fields = self._known_histograms.get(key)
        if fields is None:
            clean = _clean(metric, labels)
            fields = _histogram_fields(
                metric.name, tuple(metric.buckets), tuple(sorted(clean.items()))
            )
            if len(self._known_histograms) < _MAX_KNOWN:
                self._known_histograms[key] = fields
        count, total, buckets = fields
        with self._lock:
            self._counters[count] += 1
            self._counters[total] += value
            for bound, field in buckets:
                if value <= bound:
                    self._counters[field] += 1

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        """A last-value reading shared by all processes (the latest writer wins)."""
        with self._lock:
            self._gauges[field_for(name, labels)] = value

    def drain(self) -> tuple[dict[Field, float], dict[Field, float]]:
        with self._lock:
            counters, gauges = dict(self._counters), dict(self._gauges)
            self._counters.clear()
            self._gauges.clear()
        return counters, gauges

    def restore(self, counters: dict[Field, float], gauges: dict[Field, float]) -> None:
        """Put back deltas whose flush failed, so a Redis outage loses nothing."""
        with self._lock:
            for field, amount in counters.items():
                self._counters[field] += amount
            for field, value in gauges.items():
                self._gauges.setdefault(field, value)

    def flush(self, client: redis.Redis) -> int:
        counters, gauges = self.drain()
        if not counters and not gauges:
            return 0
        try:
            with client.pipeline(transaction=False) as pipe:
                for field, amount in counters.items():
                    pipe.hincrbyfloat(COUNTERS_KEY, field, amount)
                if gauges:
                    pipe.hset(GAUGES_KEY, mapping=gauges)
                pipe.execute()
        except (redis.RedisError, OSError):
            self.restore(counters, gauges)
            raise
        return len(counters) + len(gauges)

    async def flush_async(self, client: aioredis.Redis) -> int:
        counters, gauges = self.drain()
        if not counters and not gauges:
            return 0
        try:
            async with client.pipeline(transaction=False) as pipe:
                for field, amount in counters.items():
                    pipe.hincrbyfloat(COUNTERS_KEY, field, amount)
                if gauges:
                    pipe.hset(GAUGES_KEY, mapping=gauges)
                await pipe.execute()
        except (redis.RedisError, OSError):
            self.restore(counters, gauges)
            raise
        return len(counters) + len(gauges)


def _clean(metric: Metric, labels: dict[str, str]) -> dict[str, str]:
    if set(labels) != set(metric.labels):
        raise ValueError(f"{metric.name} takes labels {metric.labels}, got {sorted(labels)}")
    return {k: str(v)[:120] for k, v in labels.items()}


# The one recorder of this process.
RECORDER = Recorder()


async def read_gauges(client: aioredis.Redis, *names: str) -> dict[str, float]:
    """The shared last readings of label-less gauges (e.g. Salesforce usage), by name."""
    fields = [field_for(name, {}) for name in names]
    values = await client.hmget(GAUGES_KEY, fields)
    return {name: float(v) for name, v in zip(names, values, strict=True) if v is not None}
