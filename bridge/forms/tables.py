"""The form-submission audit log: one row per submission (request, outcome, push result),
personal data redacted per `config.logging.Redactor` before it is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, Json, UTCDateTime, utcnow


class FormSubmission(Base):
    __tablename__ = "form_submissions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    form_source: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))  # enriched|pushed|failed|spam|invalid
    request: Mapped[dict[str, Any]] = mapped_column(Json)
    result: Mapped[dict[str, Any]] = mapped_column(Json)

    __table_args__ = (Index(None, "tenant_id", "timestamp", "id"),)
