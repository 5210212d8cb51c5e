"""The base class of every bridge task: retries with backoff and jitter, then a dead letter.

A task declared with `@app.task(base=BridgeTask)` (the app's default task class, so plain
`@app.task` is enough) retries the transient errors below with exponential backoff and full
jitter, up to `task_max_retries`. When it finally fails, for any reason, `on_failure` writes a
dead letter row so an operator sees it and can replay it: nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any

import redis
import requests
import sqlalchemy.exc
import structlog
from billiard.einfo import ExceptionInfo
from celery import Task

from bridge.deadletters import service as deadletters
from workers import resources

log = structlog.get_logger(__name__)

# Failures that a later attempt can cure. Domains with their own retryable errors (the
# Salesforce client's TransientError, say) add them per task:
# `@app.task(autoretry_for=TRANSIENT_ERRORS + (TransientError,))`.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    redis.ConnectionError,
    redis.TimeoutError,
    requests.ConnectionError,
    requests.Timeout,
    sqlalchemy.exc.OperationalError,
)


class BridgeTask(Task):  # type: ignore[misc]
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = True
    retry_jitter = True

    # Read from the app's configuration (set from Settings in workers.celery_app), so one
    # process's settings drive every task. A task may still pass its own in the decorator.
    @property
    def max_retries(self) -> int:  # type: ignore[override]
        return int(self.app.conf.bridge_task_max_retries)

    @property
    def retry_backoff_max(self) -> int:
        return int(self.app.conf.bridge_task_retry_backoff_max)

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: ExceptionInfo,
    ) -> None:
        record_dead_letter(self, exc, task_id, args, kwargs, einfo.traceback if einfo else "")


def record_dead_letter(
    task: Task,
    exc: BaseException,
    task_id: str,
    args: tuple[Any, ...] | list[Any] | None,
    kwargs: dict[str, Any] | None,
    traceback: str = "",
) -> None:
    """Write the dead letter for a task's final failure; never raises."""
    request_id = task.request.get("request_id")
    attempts = int(task.request.retries or 0) + 1
    tenant_id = _tenant_id(kwargs, task.request.get("tenant_id"))
    error = f"{type(exc).__name__}: {exc}\n\n{traceback or ''}".strip()
    try:
        with resources.database().session() as session:
            row = deadletters.record(
                session,
                task_name=task.name,
                task_id=task_id,
                args=list(args or ()),
                kwargs=dict(kwargs or {}),
                error=error,
                attempts=attempts,
                tenant_id=tenant_id,
                request_id=str(request_id) if request_id else None,
            )
        log.error(
            "task.dead_lettered",
            dead_letter_id=row.id,
            dead_task_id=task_id,
            dead_task_name=task.name,
            attempts=attempts,
            error_type=type(exc).__name__,
        )
    except Exception:
        # The store is down too: the log line is the last place this failure can go.
        log.critical(
            "task.dead_letter_write_failed",
            dead_task_id=task_id,
            dead_task_name=task.name,
            attempts=attempts,
            error_type=type(exc).__name__,
            error=str(exc),
            exc_info=True,
        )


def _tenant_id(kwargs: dict[str, Any] | None, header: object) -> int | None:
    for candidate in ((kwargs or {}).get("tenant_id"), header):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        if isinstance(candidate, str) and candidate.isdigit():
            return int(candidate)
    return None
