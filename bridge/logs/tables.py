"""The route-log table, with the documented fields plus the tenant; and the cleanup markers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, Json, UTCDateTime, unique_where, utcnow


class RouteLog(Base):
    __tablename__ = "route_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    object: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    pool: Mapped[str | None] = mapped_column(String(120), nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(String(18), nullable=True)
    prev_owner: Mapped[str | None] = mapped_column(String(18), nullable=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    diff: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)

    # Exports read one tenant's period in (timestamp, id) order, optionally narrowed by action,
    # pool or object: every index ends in (timestamp, id) so the keyset page is an index range
    # scan in export order with no sort (benchmarks/logs_export.py). The first also serves
    # retention deletes (tenant, timestamp < cutoff).
    __table_args__ = (
        Index(None, "tenant_id", "timestamp", "id"),
        Index(None, "tenant_id", "action", "timestamp", "id"),
        Index(None, "tenant_id", "pool", "timestamp", "id"),
        Index(None, "tenant_id", "object", "timestamp", "id"),
        Index(None, "tenant_id", "object", "object_id"),
        # One assign per pool sequence number: a concurrent assign of the same record replays
        # the same pick, and its log must fail rather than repeat it (bridge/routing/service.py).
        unique_where(
            "uq_route_logs_assign_sequence",
            "tenant_id",
            "pool",
            "sequence",
            where="action = 'assign'",
        ),
    )


class RouteLogCleanup(Base):
    """When a tenant's retention cleanup last ran, in the tenant's local calendar.

    The beat job checks often and cleans each tenant once per local day after the cleanup hour;
    this row is that "already done today" marker, and the last run's figures for operators.
    """

    __tablename__ = "route_log_cleanups"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    local_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the tenant's zone
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime())
    rows_deleted: Mapped[int] = mapped_column(BigId, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
