"""Housekeeping jobs run by beat."""

from __future__ import annotations

import structlog

from bridge.deadletters import service as deadletters
from workers import resources
from workers.celery_app import app
from workers.queues import backlog

log = structlog.get_logger(__name__)


@app.task(name="housekeeping.report_backlog", max_retries=0)
def report_backlog() -> dict[str, int]:
    """Log how much work waits (queued and unacknowledged messages) and how many dead letters
    are open, once a minute, so a growing backlog shows up in the logs before anyone asks."""
    depth = backlog(resources.broker_redis())  # every queue: batches and polls
    open_dead_letters = deadletters.count(resources.database())
    report = {**depth, "dead_letters_open": open_dead_letters}
    log.info("housekeeping.backlog", **report)
    return report
