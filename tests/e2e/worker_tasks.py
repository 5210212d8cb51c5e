"""Test-only tasks, loaded into e2e workers with `-I tests.e2e.worker_tasks`.

Each records what happened in Redis keys named after the `key` argument, so the test can see
attempts and outcomes from outside the worker.
"""

from __future__ import annotations

import os
import time

import structlog

from workers.celery_app import app
from workers.resources import broker_redis

log = structlog.get_logger(__name__)


@app.task(name="e2e.flaky")
def flaky(key: str, failures: int) -> str:
    attempt = broker_redis().incr(f"attempts:{key}")
    log.info("e2e.attempt", key=key, attempt=attempt)
    if attempt <= failures:
        raise ConnectionError(f"transient failure {attempt} of {key}")
    broker_redis().set(f"done:{key}", 1)
    return "ok"


@app.task(name="e2e.fails_until_fixed")
def fails_until_fixed(key: str, payload: dict[str, str]) -> str:
    broker_redis().incr(f"attempts:{key}")
    if not broker_redis().get(f"fixed:{key}"):
        raise ConnectionError(f"upstream down for {key}")
    broker_redis().set(f"done:{key}", payload["note"])
    return "ok"


@app.task(name="e2e.log_request_id")
def log_request_id(key: str) -> None:
    log.info("e2e.request_id_seen", key=key)
    broker_redis().set(f"done:{key}", 1)


@app.task(name="e2e.slow")
def slow(key: str, seconds: float) -> None:
    client = broker_redis()
    client.incr(f"started:{key}")
    client.set(f"pid:{key}", os.getpid())
    time.sleep(seconds)
    client.incr(f"done:{key}")
