"""Route-log retention on the workers: beat calls `logs.cleanup_due` every few minutes and it
cleans each tenant once per local day, after the cleanup hour of the tenant's time zone."""

from __future__ import annotations

from typing import Any

import structlog
from redis.exceptions import LockError
from redis.lock import Lock

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
    large backlog may outlast the check interval. A tenant whose cleanup fails is logged and
    skipped, so it cannot block the tenants after it; it stays due for the next check."""
    settings = get_settings()
    # redis-py's Lock holds a random token and releases by compare-and-delete (a Lua script):
    # a run that outlived the lock never deletes the lock of the run that took it over.
    lock = resources.broker_redis().lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        log.info("logs.retention.skipped: another cleanup runs")
        return []
    done: list[dict[str, Any]] = []
    held = True
    try:
        db = resources.database()
        now = utcnow()
        for tenant in retention.due_tenants(db, now, settings.log_cleanup_hour):
            try:
                result = retention.cleanup(db, tenant, now, settings.log_cleanup_chunk_rows)
            except Exception as exc:  # one tenant's failure must not starve the others
                # The type only: database errors can quote row values (personal data).
                log.error(
                    "logs.retention.cleanup_failed",
                    tenant_id=tenant.tenant_id, error=type(exc).__name__,
                )  # fmt: skip
                done.append({"tenant_id": tenant.tenant_id, "error": type(exc).__name__})
            else:
                counters.route_logs_deleted(result.rows_deleted)
                done.append(
                    {
                        "tenant_id": result.tenant_id,
                        "rows_deleted": result.rows_deleted,
                        "duration_ms": result.duration_ms,
                        "cutoff": result.cutoff.isoformat(),
                    }
                )
            if not _still_held(lock):
                held = False  # logged as lost; releasing it would fail (and log) again
                break  # another run took over after expiry: it finishes the due tenants
        return done
    finally:
        if held:
            try:
                lock.release()
            except LockError:
                log.warning("logs.retention.lock_expired", seconds=LOCK_SECONDS)


def _still_held(lock: Lock) -> bool:
    """Restart the lock's expiry after each tenant, so only a stuck tenant can let it lapse."""
    try:
        lock.reacquire()
    except LockError:
        log.warning("logs.retention.lock_lost", seconds=LOCK_SECONDS)
        return False
    return True
