"""The calls other code makes to count what it does: cheap, in-process, never raising I/O.

from bridge.metrics import counters
counters.trigger_ids_accepted("Lead", "webhook", 3)
with counters.step("Lead", "enrich"):
    ...
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from bridge.metrics import catalogue as m
from bridge.metrics.recorder import RECORDER
from bridge.salesforce.usage import ApiUsage

KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

# Salesforce usage gauges (last reading any process saw).
SF_USED = "bridge_salesforce_api_daily_used"
SF_LIMIT = "bridge_salesforce_api_daily_limit"
SF_OBSERVED_AT = "bridge_salesforce_api_usage_observed_timestamp_seconds"


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in KNOWN_METHODS else "OTHER"
    RECORDER.inc(m.HTTP_REQUESTS, method=method, route=route, status=str(status))
    # The class, not the code: each label value multiplies the histogram's 12 bucket series.
    RECORDER.observe(
        m.HTTP_LATENCY, seconds, method=method, route=route, status=status_class(status)
    )


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def trigger_ids_accepted(sobject: str, source: str, count: int) -> None:
    RECORDER.inc(m.TRIGGER_IDS, count, object=sobject, source=source)


def batch_processed(sobject: str, requested: int, **outcomes: int) -> None:
    """One pipeline batch: its size, and how many records ended how (processed, failed,
    skipped_loop_guard, ...)."""
    RECORDER.observe(m.BATCH_SIZE, requested, object=sobject)
    for outcome, n in outcomes.items():
        RECORDER.inc(m.PIPELINE_RECORDS, n, object=sobject, outcome=outcome)


@contextmanager
def step(sobject: str, name: str) -> Iterator[None]:
    """Time one pipeline step over a batch and count it ok or error (the error propagates)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        RECORDER.inc(m.STEP_RUNS, object=sobject, step=name, outcome=outcome)
        RECORDER.observe(m.STEP_LATENCY, time.perf_counter() - started, object=sobject, step=name)


def route_logs_deleted(rows: int) -> None:
    RECORDER.inc(m.ROUTE_LOGS_DELETED, rows)


_seen_calls: weakref.WeakKeyDictionary[ApiUsage, dict[str, int]] = weakref.WeakKeyDictionary()
_seen_lock = threading.Lock()


def salesforce_usage(usage: ApiUsage) -> None:
    """Count the calls a gateway made since the last look, and share its latest reading of the
    org's daily limit (`Sforce-Limit-Info`). Call it after work that used the gateway."""
    snapshot = usage.snapshot()
    calls: dict[str, int] = snapshot["calls_by_operation"]
    with _seen_lock:
        before = _seen_calls.get(usage, {})
        _seen_calls[usage] = dict(calls)
    for operation, count in calls.items():
        previous = before.get(operation, 0)
        delta = count - previous if count >= previous else count  # counts were reset
        RECORDER.inc(m.SALESFORCE_CALLS, delta, operation=operation)
    if snapshot["api_used"] is not None and snapshot["api_limit"] is not None:
        RECORDER.set_gauge(SF_USED, float(snapshot["api_used"]))
        RECORDER.set_gauge(SF_LIMIT, float(snapshot["api_limit"]))
        RECORDER.set_gauge(SF_OBSERVED_AT, time.time())
