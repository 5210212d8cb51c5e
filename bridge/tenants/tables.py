"""Tables owned by the tenants domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.base import Base, Json, UTCDateTime, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Route-log retention in days (documented default 365, at most 1095).
    retention_days: Mapped[int] = mapped_column(Integer, default=365)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class ApiKey(Base):
    """A bearer key. Only a SHA-256 of the secret is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    # Empty list: every scope. Otherwise e.g. ["forms"] for a per-site form key.
    scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    allowed_origins: Mapped[list[str]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index(None, "tenant_id"),)


class SalesforceOrg(Base):
    """Which tenant a Salesforce org id belongs to (triggers name their org)."""

    __tablename__ = "salesforce_orgs"

    org_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
