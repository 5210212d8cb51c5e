"""The Celery app, configured from Settings: Redis broker and results, redbeat for beat.

`bridge worker` and `bridge beat` (and `celery -A workers.celery_app ...`) use `app`. Adding a
task: write it in a module under `workers/tasks/` with `@app.task(name="area.verb")`, keep it
thin (decode, call a service, record) and list the module in TASK_MODULES. Every task gets the
BridgeTask base: retries with backoff and jitter, then a dead letter.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from config.settings import Settings, get_settings
from workers import signals as _signals  # noqa: F401  (connects the signal handlers)
from workers.queues import DEFAULT_QUEUE, POLLING_QUEUE, QUEUES
from workers.schedule import beat_schedule

TASK_MODULES = [
    "workers.tasks.agents",
    "workers.tasks.diagnostics",
    "workers.tasks.housekeeping",
    "workers.tasks.logs",
    "workers.tasks.matching",
    "workers.tasks.metrics",
    "workers.tasks.triggers",
    "workers.tasks.workflows",
]

# Redis client timeouts for broker, results and redbeat: fail fast on a dead connection
# instead of hanging a worker, and ping idle connections before reuse.
SOCKET_TIMEOUT = 30.0
SOCKET_CONNECT_TIMEOUT = 5.0
HEALTH_CHECK_INTERVAL = 25
RESULT_EXPIRES_SECONDS = 24 * 3600

# Polls get a queue of their own: behind a long batch backlog in the shared queue they would
# wait past their expiry and the safety net would stop exactly when it matters. A worker
# started without -Q consumes every queue in QUEUES; `-Q polling` makes a dedicated poller.
TASK_ROUTES = {"triggers.poll_*": {"queue": POLLING_QUEUE}}


class ConfigurationError(ValueError):
    pass


def check_timing(settings: Settings) -> None:
    """A message sits unacked in a worker from delivery until its countdown has passed and it
    has run. If that outlasts the visibility timeout, Redis hands it to a second worker and the
    task runs twice (celery #4766, #7009, kombu #337), so refuse such a configuration."""
    longest_hold = settings.task_retry_backoff_max + settings.task_time_limit
    if longest_hold >= settings.broker_visibility_timeout:
        raise ConfigurationError(
            f"BRIDGE_BROKER_VISIBILITY_TIMEOUT ({settings.broker_visibility_timeout} s) must "
            f"exceed BRIDGE_TASK_RETRY_BACKOFF_MAX + BRIDGE_TASK_TIME_LIMIT ({longest_hold} s)"
        )
    # redbeat extends its lock once per loop; a lock barely longer than the loop expires
    # between two extensions and beat dies with LockNotOwnedError (redbeat #230).
    if settings.redbeat_lock_timeout < 3 * settings.beat_max_loop_interval:
        raise ConfigurationError(
            "BRIDGE_REDBEAT_LOCK_TIMEOUT must be at least 3 x BRIDGE_BEAT_MAX_LOOP_INTERVAL"
        )


def celery_config(settings: Settings) -> dict[str, Any]:
    check_timing(settings)
    redis_client_options = {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.broker_visibility_timeout,
            **redis_client_options,
        },
        "redis_socket_timeout": SOCKET_TIMEOUT,
        "redis_socket_connect_timeout": SOCKET_CONNECT_TIMEOUT,
        "redis_socket_keepalive": True,
        "redis_backend_health_check_interval": HEALTH_CHECK_INTERVAL,
        "redis_retry_on_timeout": True,
        "result_expires": RESULT_EXPIRES_SECONDS,
        # JSON only: a pickle payload from the broker would be code execution.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # At-least-once delivery: ack after the run, requeue when the pool process dies,
        # take one message at a time so a busy worker does not sit on others' work.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # With acks_late, a task running when the broker connection drops cannot be acked;
        # cancel it so it is redelivered rather than finished and then run again.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": max(1, int(settings.task_time_limit * 0.9)),
        "task_always_eager": settings.celery_always_eager,
        "task_eager_propagates": True,
        "worker_hijack_root_logger": False,
        "task_default_queue": DEFAULT_QUEUE,
        "task_queues": tuple(Queue(name, Exchange(name), routing_key=name) for name in QUEUES),
        "task_routes": TASK_ROUTES,
        # Read by BridgeTask.
        "bridge_task_max_retries": settings.task_max_retries,
        "bridge_task_retry_backoff_max": settings.task_retry_backoff_max,
        # Beat: redbeat keeps the schedule in Redis and one beat alive through a lock. A short
        # loop and a lock near 75 s: a dead beat is replaced within about a minute, and the
        # lock is extended every loop long before it expires (redbeat #230).
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "beat_max_loop_interval": settings.beat_max_loop_interval,
        "beat_schedule": beat_schedule(settings),
        "redbeat_redis_url": settings.broker_url,
        "redbeat_redis_options": dict(redis_client_options),
        "redbeat_key_prefix": "redbeat:",
        "redbeat_lock_timeout": settings.redbeat_lock_timeout,
    }


def create_celery_app(settings: Settings) -> Celery:
    # `include` is imported by the worker at start, not here: the task modules import `app`.
    app = Celery("bridge", task_cls="workers.base:BridgeTask", include=TASK_MODULES)
    app.conf.update(celery_config(settings))
    return app


app = create_celery_app(get_settings())
