"""Route-log retention: each tenant keeps its logs `retention_days` (365 by default, at most
1095), and a daily cleanup after the cleanup hour (2 AM) of the tenant's own time zone deletes
what is older, in bounded chunks so no transaction holds locks on millions of rows.

The retention period and time zone are columns of the tenant (`tenants.retention_days`,
`tenants.timezone`); this module is the one place that reads and sets them for route logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import delete, select

from bridge.db import Database
from bridge.db.base import utcnow
from bridge.logs.models import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, valid_timezone
from bridge.logs.tables import RouteLog, RouteLogCleanup
from bridge.tenants.tables import Tenant

log = structlog.get_logger(__name__)


class TenantNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    tenant_id: int
    retention_days: int
    timezone: str
    last_cleanup_at: datetime | None = None
    last_cleanup_rows: int | None = None
    last_cleanup_cutoff: datetime | None = None


@dataclass(frozen=True, slots=True)
class CleanupResult:
    tenant_id: int
    cutoff: datetime
    rows_deleted: int
    duration_ms: int
    local_date: str


def zone_of(name: str | None) -> ZoneInfo:
    """The tenant's zone; an unknown name (set by hand in SQL) falls back to UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("logs.retention.unknown_timezone", timezone=name)
        return ZoneInfo("UTC")


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    """Rows strictly older than this instant are past retention."""
    return now - timedelta(days=retention_days)


def get_policy(db: Database, tenant_id: int) -> RetentionPolicy:
    with db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise TenantNotFound(str(tenant_id))
        marker = session.get(RouteLogCleanup, tenant_id)
        return RetentionPolicy(
            tenant_id=tenant_id,
            retention_days=tenant.retention_days,
            timezone=tenant.timezone or "UTC",
            last_cleanup_at=marker.ran_at if marker else None,
            last_cleanup_rows=marker.rows_deleted if marker else None,
            last_cleanup_cutoff=marker.cutoff if marker else None,
        )


def set_policy(
    db: Database, tenant_id: int, retention_days: int, timezone: str | None = None
) -> RetentionPolicy:
    if not MIN_RETENTION_DAYS <= retention_days <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"retention_days must be {MIN_RETENTION_DAYS}..{MAX_RETENTION_DAYS}, "
            f"not {retention_days}"
        )
    if timezone is not None:
        valid_timezone(timezone)
    with db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise TenantNotFound(str(tenant_id))
        tenant.retention_days = retention_days
        if timezone is not None:
            tenant.timezone = timezone
    log.info("logs.retention.set", tenant_id=tenant_id, retention_days=retention_days)
    return get_policy(db, tenant_id)


def tenant_id_by_name(db: Database, name: str) -> int:
    with db.session() as session:
        found = session.scalar(select(Tenant.id).where(Tenant.name == name))
    if found is None:
        raise TenantNotFound(name)
    return int(found)


def purge(db: Database, tenant_id: int, cutoff: datetime, chunk_rows: int) -> int:
    """Delete the tenant's rows older than `cutoff`, `chunk_rows` per transaction."""
    total = 0
    while True:
        with db.session() as session:
            ids = (
                select(RouteLog.id)
                .where(RouteLog.tenant_id == tenant_id, RouteLog.timestamp < cutoff)
                .order_by(RouteLog.timestamp, RouteLog.id)
                .limit(chunk_rows)
            )
            deleted = session.execute(
                delete(RouteLog).where(RouteLog.id.in_(ids.scalar_subquery()))
            ).rowcount
        total += int(deleted or 0)
        if not deleted or deleted < chunk_rows:
            return total


@dataclass(frozen=True, slots=True)
class DueTenant:
    tenant_id: int
    retention_days: int
    local_date: str


def due_tenants(db: Database, now: datetime, cleanup_hour: int) -> list[DueTenant]:
    """Tenants whose local clock has passed the cleanup hour today and that were not cleaned
    on this local date yet."""
    with db.session() as session:
        rows = session.execute(
            select(Tenant.id, Tenant.retention_days, Tenant.timezone, RouteLogCleanup.local_date)
            .outerjoin(RouteLogCleanup, RouteLogCleanup.tenant_id == Tenant.id)
            .order_by(Tenant.id)
        ).all()
    due = []
    for tenant_id, days, zone, done_on in rows:
        local = now.astimezone(zone_of(zone))
        today = local.date().isoformat()
        if local.hour >= cleanup_hour and done_on != today:
            due.append(DueTenant(int(tenant_id), int(days), today))
    return due


def cleanup(db: Database, tenant: DueTenant, now: datetime, chunk_rows: int) -> CleanupResult:
    """Run one tenant's cleanup and record it as done for its local date."""
    started = time.perf_counter()
    cutoff = cutoff_for(now, tenant.retention_days)
    rows = purge(db, tenant.tenant_id, cutoff, chunk_rows)
    duration_ms = round((time.perf_counter() - started) * 1000)
    with db.session() as session:
        marker = session.get(RouteLogCleanup, tenant.tenant_id)
        if marker is None:
            marker = RouteLogCleanup(tenant_id=tenant.tenant_id)
            session.add(marker)
        marker.local_date = tenant.local_date
        marker.ran_at = utcnow()
        marker.cutoff = cutoff
        marker.rows_deleted = rows
        marker.duration_ms = duration_ms
    log.info(
        "logs.retention.cleanup",
        tenant_id=tenant.tenant_id,
        retention_days=tenant.retention_days,
        cutoff=cutoff.isoformat(),
        rows_deleted=rows,
        duration_ms=duration_ms,
    )
    return CleanupResult(tenant.tenant_id, cutoff, rows, duration_ms, tenant.local_date)


def policy_for_now(db: Database, tenant_id: int, now: datetime | None = None) -> DueTenant:
    """A DueTenant for an immediate (operator-requested) cleanup of one tenant."""
    policy = get_policy(db, tenant_id)
    now = now or utcnow()
    local = now.astimezone(zone_of(policy.timezone)).date().isoformat()
    return DueTenant(tenant_id, policy.retention_days, local)
