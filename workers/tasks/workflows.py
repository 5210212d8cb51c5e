"""Workflow jobs on the workers: drain the workflow stream and due retries.

Beat sends `workflows.drain` every second; each run takes what is waiting (new triggers,
retries that are due, entries a crashed worker left behind) and runs their steps in order.
A Redis lock keeps one drain at a time per consumer name, so a slow run is not doubled.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from bridge.workflows.config import load
from bridge.workflows.jobs import JobStore
from bridge.workflows.runner import RetryPolicy, WorkflowRunner
from bridge.workflows.wiring import step_services
from config.logging import Redactor
from config.settings import get_settings
from workers import resources
from workers.celery_app import app
from workers.salesforce import gateway_getter

_runner: WorkflowRunner | None = None


def runner() -> WorkflowRunner:
    global _runner
    if _runner is None:
        settings = get_settings()
        client = resources.broker_redis()
        db = resources.database()
        _runner = WorkflowRunner(
            JobStore(client), db, load(settings.workflows_config),
            step_services(settings, client, db, gateway_getter()),
            retry=RetryPolicy(max_attempts=settings.task_max_retries,
                              max_seconds=settings.task_retry_backoff_max),
            redactor=Redactor(settings.log_personal_data),
        )  # fmt: skip
    return _runner


@app.task(name="workflows.drain")
def drain(limit: int = 200) -> dict[str, Any]:
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    return {"ran": runner().drain(consumer, limit=limit)}
