"""Every metric the bridge exports: name, type, help, labels (and buckets for histograms)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "histogram"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 150, 200)

HTTP_REQUESTS = Metric(
    "bridge_http_requests", "counter", "HTTP requests answered.", ("method", "route", "status")
)
HTTP_LATENCY = Metric(
    "bridge_http_request_duration_seconds", "histogram",
    "Time to answer an HTTP request, by status class (2xx, 3xx, 4xx, 5xx).",
    ("method", "route", "status"), LATENCY_BUCKETS,
)  # fmt: skip
TRIGGER_IDS = Metric(
    "bridge_trigger_ids_accepted", "counter",
    "Record ids accepted for processing (webhook, outbound message, poll).", ("object", "source"),
)  # fmt: skip
BATCH_SIZE = Metric(
    "bridge_batch_size", "histogram", "Record ids per batch processed by the pipeline.",
    ("object",), BATCH_BUCKETS,
)  # fmt: skip
PIPELINE_RECORDS = Metric(
    "bridge_pipeline_records", "counter",
    "Records through the pipeline by outcome (processed, failed, skipped_loop_guard, "
    "skipped_already_processed, skipped_echo).", ("object", "outcome"),
)  # fmt: skip
STEP_RUNS = Metric(
    "bridge_pipeline_step_runs", "counter", "Pipeline step runs by outcome (ok, error).",
    ("object", "step", "outcome"),
)  # fmt: skip
STEP_LATENCY = Metric(
    "bridge_pipeline_step_duration_seconds", "histogram", "Time one pipeline step took on a batch.",
    ("object", "step"), LATENCY_BUCKETS,
)  # fmt: skip
SALESFORCE_CALLS = Metric(
    "bridge_salesforce_api_calls", "counter", "Salesforce API calls made, by operation.",
    ("operation",),
)  # fmt: skip
ROUTE_LOGS_DELETED = Metric(
    "bridge_route_logs_deleted", "counter", "Route-log rows deleted by retention cleanup.", ()
)

ALL = (
    HTTP_REQUESTS, HTTP_LATENCY, TRIGGER_IDS, BATCH_SIZE, PIPELINE_RECORDS, STEP_RUNS,
    STEP_LATENCY, SALESFORCE_CALLS, ROUTE_LOGS_DELETED,
)  # fmt: skip
BY_NAME = {m.name: m for m in ALL}
