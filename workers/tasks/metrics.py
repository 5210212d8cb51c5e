"""Metrics from worker processes: after every task, count the Salesforce calls the process's
gateway made and push this process's metric deltas to Redis (one pipelined round trip, only
when something was counted). No tasks here; the module connects Celery signals."""

from __future__ import annotations

import os
from typing import Any

import redis
import structlog
from celery import signals

from bridge.metrics import counters
from bridge.metrics.recorder import RECORDER
from config.settings import get_settings
from workers import salesforce

log = structlog.get_logger(__name__)

_client: tuple[int, redis.Redis] | None = None


def _redis() -> redis.Redis:

    global _client
    if _client is None or _client[0] != os.getpid():  # never reuse a socket across a fork
        _client = (
            os.getpid(),
            redis.Redis.from_url(
                get_settings().redis_url, socket_timeout=5, socket_connect_timeout=2
            ),
        )
    return _client[1]


def flush() -> None:
    opened = getattr(salesforce, "_gateway", None)  # only a gateway this process already opened
    if opened is not None:
        counters.salesforce_usage(opened[1].usage)
    try:
        RECORDER.flush(_redis())
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics flush failed; kept for the next task", error=type(exc).__name__)


@signals.task_postrun.connect
def _after_task(**_: Any) -> None:
    flush()


@signals.worker_process_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    flush()
