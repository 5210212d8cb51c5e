"""Celery signal handlers: logging set-up, the pipeline configuration check at worker start,
per-process resources, request-id propagation.

The request id travels as a message header: `before_task_publish` copies the id bound in the
publishing context (an HTTP request, or a running task) into the headers, `task_prerun` binds
it for the task's logs, `task_postrun` clears it so the next task on this process starts clean.
"""

from __future__ import annotations

from typing import Any

import structlog
from billiard.exceptions import WorkerLostError
from celery import Task
from celery.exceptions import TimeLimitExceeded
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)
from structlog.contextvars import bind_contextvars, clear_contextvars

from config.logging import bind_request_id, configure_logging, current_request_id
from config.settings import get_settings
from workers import resources
from workers.base import BridgeTask, record_dead_letter

REQUEST_ID_HEADER = "request_id"

log = structlog.get_logger(__name__)


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    # A connected receiver stops Celery from installing its own root handlers.
    configure_logging(get_settings())


@worker_init.connect
def _check_pipeline_config(**_: Any) -> None:
    # In the worker's main process, before any pool process exists, for every pool: a wrong
    # config/pipeline.yaml (unknown step, provider or Salesforce field), or Salesforce sign-in
    # settings no gateway can be built from, stops the worker here instead of failing its
    # first batch. SystemExit, because Celery logs and swallows an Exception raised by a
    # signal handler.
    from workers.tasks.triggers import SignInSettingsInvalid, check_pipeline

    configure_logging(get_settings())
    try:
        check_pipeline()
    except SignInSettingsInvalid as exc:
        log.error("worker.salesforce_signin_invalid", error=str(exc))
        raise SystemExit(1) from None
    except ValueError as exc:
        log.error("worker.pipeline_config_invalid", error=str(exc))
        raise SystemExit(1) from None


@worker_process_init.connect
def _open_process_resources(**_: Any) -> None:
    configure_logging(get_settings())
    resources.open_resources()


@worker_process_shutdown.connect
def _close_process_resources(**_: Any) -> None:
    resources.close_resources()


@before_task_publish.connect
def _stamp_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or headers.get(REQUEST_ID_HEADER):
        return
    request_id = current_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id


@task_prerun.connect
def _bind_task_context(task_id: str | None = None, task: Task | None = None, **_: Any) -> None:
    clear_contextvars()
    incoming = task.request.get(REQUEST_ID_HEADER) if task is not None else None
    # A task nobody asked for over HTTP (beat) gets a fresh id, so its retries and the tasks
    # it publishes still share one.
    bind_request_id(str(incoming) if incoming else None)
    bind_contextvars(task_id=task_id, task_name=task.name if task is not None else None)


@task_postrun.connect
def _clear_task_context(**_: Any) -> None:
    clear_contextvars()


@task_failure.connect
def _dead_letter_killed_task(
    sender: Task | None = None,
    task_id: str = "",
    exception: BaseException | None = None,
    args: tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    # A task killed by the hard time limit never reaches BridgeTask.on_failure (its process
    # is gone); the worker's main process reports it here instead. Failures inside the task
    # were already recorded by on_failure, so only these are handled.
    if not isinstance(sender, BridgeTask) or exception is None:
        return
    if isinstance(exception, TimeLimitExceeded | WorkerLostError):
        record_dead_letter(sender, exception, task_id, args, kwargs)
