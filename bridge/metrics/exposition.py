"""Rendering the Prometheus text format from the shared totals and the live readings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from bridge.metrics import catalogue
from bridge.metrics.counters import SF_LIMIT, SF_OBSERVED_AT, SF_USED
from bridge.metrics.recorder import COUNTERS_KEY, GAUGES_KEY, parse_field

Labels = tuple[tuple[str, str], ...]


@dataclass
class Readings:
    """Everything one scrape shows."""

    counters: dict[tuple[str, Labels], float] = field(default_factory=dict)
    gauges: dict[tuple[str, Labels], float] = field(default_factory=dict)
    queue: dict[str, int] | None = None
    poll_lag: dict[str, float] = field(default_factory=dict)  # object -> worst lag
    poll_failing: dict[str, int] = field(default_factory=dict)  # object -> tenants failing
    dead_letters_open: dict[str, int] = field(default_factory=dict)
    dead_letters_recorded: int | None = None

    def gauge(self, name: str) -> float | None:
        return self.gauges.get((name, ()))


def _decode(raw: dict[Any, Any]) -> dict[tuple[str, Labels], float]:
    out = {}
    for key, value in raw.items():
        series, labels = parse_field(key)
        out[(series, tuple(sorted(labels.items())))] = float(value)
    return out


async def read_totals(client: aioredis.Redis, readings: Readings) -> None:
    async with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(COUNTERS_KEY)
        pipe.hgetall(GAUGES_KEY)
        counters, gauges = await pipe.execute()
    readings.counters = _decode(counters)
    readings.gauges = _decode(gauges)


class _Collector(Collector):
    def __init__(self, readings: Readings) -> None:
        self.readings = readings

    def collect(self) -> Iterator[Metric]:
        yield from self._catalogued()
        yield from self._live()

    def _catalogued(self) -> Iterator[Metric]:
        by_series: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for (series, labels), value in self.readings.counters.items():
            by_series[series].append((dict(labels), value))
        for metric in catalogue.ALL:
            # Totals stored under an older label set (before `status` joined the latency
            # histogram, say) stay in Redis; they are left out rather than failing every scrape.
            shape = set(metric.labels)
            if metric.kind == "counter":
                family = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
                for labels, value in sorted(by_series.get(metric.name + "_total", []), key=_k):
                    if set(labels) == shape:
                        family.add_metric([labels[n] for n in metric.labels], value)
                yield family
                continue
            hist = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
            series: dict[tuple[str, ...], dict[str, Any]] = defaultdict(
                lambda: {"buckets": {}, "sum": 0.0}
            )
            for labels, value in by_series.get(metric.name + "_bucket", []):
                le = labels.pop("le", None)
                if le is not None and set(labels) == shape:
                    series[tuple(labels[n] for n in metric.labels)]["buckets"][le] = value
            for labels, value in by_series.get(metric.name + "_sum", []):
                if set(labels) == shape:
                    series[tuple(labels[n] for n in metric.labels)]["sum"] = value
            for key in sorted(series):
                counts = series[key]["buckets"]
                buckets = [
                    (le, counts.get(le, 0.0))
                    for le in [repr(float(b)) for b in metric.buckets] + ["+Inf"]
                ]
                hist.add_metric(list(key), buckets, series[key]["sum"])
            yield hist

    def _live(self) -> Iterator[Metric]:
        r = self.readings
        if r.queue is not None:
            yield _gauge(
                "bridge_queue_depth",
                "Celery messages waiting (queued) and taken but unacknowledged (unacked).",
                "state",
                r.queue,
            )
        yield _gauge(
            "bridge_poll_lag_seconds",
            "Seconds between now and the polling watermark (worst tenant), per object.",
            "object",
            r.poll_lag,
        )
        yield _gauge(
            "bridge_poll_failing",
            "Tenants whose last poll of the object ended in an error.",
            "object",
            r.poll_failing,
        )
        yield _gauge(
            "bridge_dead_letters_open",
            "Tasks that exhausted their retries and await an operator, per task.",
            "task",
            r.dead_letters_open,
        )
        if r.dead_letters_recorded is not None:
            yield CounterMetricFamily(
                "bridge_dead_letters", "Dead letters ever recorded.", value=r.dead_letters_recorded
            )
        used, limit, seen = r.gauge(SF_USED), r.gauge(SF_LIMIT), r.gauge(SF_OBSERVED_AT)
        if used is not None and limit is not None:
            yield GaugeMetricFamily(
                "bridge_salesforce_api_daily_used", "Org API calls used today "
                "(latest Sforce-Limit-Info any process saw).", value=used,
            )  # fmt: skip
            yield GaugeMetricFamily(
                "bridge_salesforce_api_daily_limit", "Org daily API limit.", value=limit
            )
            yield GaugeMetricFamily(
                "bridge_salesforce_api_remaining", "Org API calls left today.",
                value=max(0.0, limit - used),
            )  # fmt: skip
            if seen is not None:
                yield GaugeMetricFamily(
                    "bridge_salesforce_api_usage_observed_timestamp_seconds",
                    "When that reading was taken (Unix time).", value=seen,
                )  # fmt: skip


def _k(item: tuple[dict[str, str], float]) -> list[tuple[str, str]]:
    return sorted(item[0].items())


def render(readings: Readings, accept: str = "") -> tuple[bytes, str]:
    """The body and its content type, negotiated from `Accept` (text 0.0.4/1.0.0, OpenMetrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(readings))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def _gauge(name: str, help_text: str, label: str, values: Mapping[str, float]) -> Metric:
    """A gauge with one label, one sample per key (sorted, so scrapes are stable)."""
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family
