"""Tables owned by the credits domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, BigId, UTCDateTime, unique_where, utcnow


class CreditBalance(Base):
    """One row per tenant; debits update it with a guarded UPDATE so they never overspend."""

    __tablename__ = "credit_balances"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)


class CreditEntry(Base):
    """A ledger line: kind 'debit' or 'grant', amount always positive."""

    __tablename__ = "credit_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(Integer)
    endpoint: Mapped[str] = mapped_column(String(120), default="")
    workflow_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    workflow_run_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    custom_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    custom_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index(None, "tenant_id", "created_at"),
        # A credit lease and its return are each recorded once (bridge/credits/lease.py).
        unique_where(
            "uq_credit_ledger_lease", "kind", "request_id", where="endpoint = 'triggers:lease'"
        ),
    )
