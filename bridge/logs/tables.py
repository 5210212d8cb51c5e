"""The route-log table, with the documented fields plus the tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, Json, UTCDateTime, utcnow


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

    # Exports filter by tenant and period first, then optionally action/pool/object.
    __table_args__ = (
        Index(None, "tenant_id", "timestamp", "id"),
        Index(None, "tenant_id", "action", "timestamp"),
        Index(None, "tenant_id", "pool", "timestamp"),
        Index(None, "tenant_id", "object", "object_id"),
    )
