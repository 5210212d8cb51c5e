"""Tables owned by the agents domain: one row per run, one per record of a run.

The record rows are the run's progress: a record is `pending` until its outcome and its charge
commit together in one transaction, so a resumed run skips it and never charges it twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, Json, UTCDateTime, utcnow


class AgentRun(Base):
    __tablename__ = "agent_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    agent: Mapped[str] = mapped_column(String(20))  # phone | email | phone-email | deep-research
    entity_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    options: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    max_credits: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    found: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    not_processed: Mapped[int] = mapped_column(Integer, default=0)  # left when it stopped
    credits_consumed: Mapped[int] = mapped_column(Integer, default=0)
    stopped_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_path: Mapped[str] = mapped_column(Text)
    credits_csv_path: Mapped[str] = mapped_column(Text)
    resumes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The run's heartbeat: a queued/running run silent for long is republished.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index(None, "status", "updated_at"), Index(None, "tenant_id", "created_at"))


class AgentRunRecord(Base):
    __tablename__ = "agent_run_records"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("agent_runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(255))  # the Salesforce id or the inline record's id
    input: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)  # inline records
    # pending | done | skipped | error | stopped
    status: Mapped[str] = mapped_column(String(10), default="pending")
    credits: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(80), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
