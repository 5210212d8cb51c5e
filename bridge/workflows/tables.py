"""The workflow audit log: every trigger's request and response, and each job step's outcome,
personal data redacted per `config.logging.Redactor`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, Json, UTCDateTime, utcnow


class WorkflowAudit(Base):
    __tablename__ = "workflow_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    workflow_id: Mapped[str] = mapped_column(String(100))
    job_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # request|response|step|done|failed
    step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(Json)

    __table_args__ = (
        Index(None, "tenant_id", "timestamp", "id"),
        Index(None, "tenant_id", "job_id"),
    )
