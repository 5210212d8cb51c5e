"""Route-log retention on the workers: beat calls `logs.cleanup_due` every few minutes and it
cleans each tenant once per local day, after the cleanup hour of the tenant's time zone."""

from __future__ import annotations

from typing import Any

import structlog

from bridge.db.base import utcnow
from bridge.logs import retention
from bridge.metrics import counters
from config.settings import get_settings
from workers import resources
from workers.celery_app import app

log = structlog.get_logger(__name__)

LOCK_KEY = "bridge:logs:cleanup:lock"
LOCK_SECONDS = 3600


@app.task(name="logs.cleanup_due", max_retries=0)
def cleanup_due() -> list[dict[str, Any]]:
    """Clean every tenant that is due; one run at a time (a Redis lock), since a run over a
    large backlog may outlast the check interval. A failed run is retried by the next check:
    the tenant stays due until its cleanup completes."""
    settings = get_settings()
    client = resources.broker_redis()
    if not client.set(LOCK_KEY, "1", nx=True, ex=LOCK_SECONDS):
        log.info("logs.retention.skipped: another cleanup runs")
        return []
    try:
        db = resources.database()
        now = utcnow()
        done = []
        for tenant in retention.due_tenants(db, now, settings.log_cleanup_hour):
            result = retention.cleanup(db, tenant, now, settings.log_cleanup_chunk_rows)
            counters.route_logs_deleted(result.rows_deleted)
            done.append(
                {
                    "tenant_id": result.tenant_id,
                    "rows_deleted": result.rows_deleted,
                    "duration_ms": result.duration_ms,
                    "cutoff": result.cutoff.isoformat(),
                }
            )
        return done
    finally:
        client.delete(LOCK_KEY)
