"""Match index upkeep on the workers: a full rebuild (daily, or on demand) and a refresh from
the org's changes (every poll interval). Thin: find the tenant, call the loader."""

from __future__ import annotations

from typing import Any

import structlog

from bridge.matching import loader
from bridge.matching.store import IndexStore
from bridge.salesforce.errors import TransientError
from bridge.tenants.service import tenant_for_org
from workers import resources
from workers.base import TRANSIENT_ERRORS
from workers.celery_app import app
from workers.salesforce import gateway

log = structlog.get_logger(__name__)
LOCK_SECONDS = 1800


def _tenant(tenant_id: int | None) -> int | None:
    org_id = gateway().org_id
    owner = tenant_for_org(resources.database(), org_id) if org_id else None
    if owner is None or (tenant_id is not None and tenant_id != owner):
        log.warning("matching: the connected org belongs to no such tenant", org_id=org_id)
        return None
    return owner


@app.task(name="matching.rebuild_index", autoretry_for=(*TRANSIENT_ERRORS, TransientError))
def rebuild_index(tenant_id: int | None = None) -> dict[str, Any]:
    """A full load of Accounts, Contacts, Leads and Opportunities into the tenant's index."""
    tenant = _tenant(tenant_id)
    if tenant is None:
        return {"rebuilt": False}
    client = resources.broker_redis()
    # One rebuild at a time per tenant; a second one would only repeat the same full load.
    lock = client.lock(f"bridge:matching:{tenant}:rebuild-lock", timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return {"rebuilt": False, "reason": "already running"}
    try:
        counts = loader.rebuild(IndexStore(client), tenant, gateway())
    finally:
        lock.release()
    return {"rebuilt": True, "tenant_id": tenant, **counts}


@app.task(name="matching.refresh_index", max_retries=0)
def refresh_index(tenant_id: int | None = None) -> dict[str, Any]:
    """Apply the org's changes since the last refresh; the next run retries a failed one."""
    tenant = _tenant(tenant_id)
    if tenant is None:
        return {"refreshed": False}
    counts = loader.refresh(IndexStore(resources.broker_redis()), tenant, gateway())
    return {"refreshed": True, "tenant_id": tenant, **counts}
