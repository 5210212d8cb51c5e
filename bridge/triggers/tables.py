"""Tables owned by the triggers domain: signing secrets and polling watermarks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, UTCDateTime, utcnow


class WebhookSecret(Base):
    """A Standard Webhooks signing secret. Several may be active while a tenant rotates.

    Kept in clear because verifying an HMAC needs the key itself; the database is the trust
    boundary (as for the Salesforce credentials in the environment).
    """

    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index(None, "tenant_id"),)


class PollState(Base):
    """The keyset watermark of one tenant's polling of one object, and how the last poll went."""

    __tablename__ = "poll_states"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    object: Mapped[str] = mapped_column(String(40), primary_key=True)
    watermark_ts: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    watermark_id: Mapped[str | None] = mapped_column(String(18), nullable=True)
    last_poll_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_poll_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    records_processed: Mapped[int] = mapped_column(Integer, default=0)
    records_total: Mapped[int] = mapped_column(Integer, default=0)
    skipped_loop_guard: Mapped[int] = mapped_column(Integer, default=0)
    skipped_already_processed: Mapped[int] = mapped_column(Integer, default=0)
    deleted_seen: Mapped[int] = mapped_column(Integer, default=0)
    queries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
