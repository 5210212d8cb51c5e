"""The dead-letter table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, Json, UTCDateTime, utcnow


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_name: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    args: Mapped[list[Any]] = mapped_column(Json, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 'open' until replayed; replay keeps the row for the audit trail.
    status: Mapped[str] = mapped_column(String(16), default="open")
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index(None, "status", "created_at"),)
