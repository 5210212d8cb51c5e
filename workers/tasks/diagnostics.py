"""Tasks an operator runs to check the pipeline end to end.

`celery -A workers.celery_app call diagnostics.ping` and watch the worker log (or the result).
"""

from __future__ import annotations

import socket

import structlog

from workers.celery_app import app

log = structlog.get_logger(__name__)


@app.task(name="diagnostics.ping")
def ping() -> dict[str, str]:
    """Answers from whichever worker took it; the log line carries the caller's request id."""
    host = socket.gethostname()
    log.info("diagnostics.pong", worker_host=host)
    return {"pong": host}
