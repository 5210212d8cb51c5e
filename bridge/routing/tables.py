"""Tables owned by the routing domain: round-robin pools and their members.

Rotation state (current weights, sequence numbers, cap counters) lives in Redis and is
rebuilt from the route logs; these tables hold only what an operator configures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bridge.db.base import Base, BigId, Json, UTCDateTime, utcnow


class RoutingPool(Base):
    __tablename__ = "routing_pools"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    cap_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cap_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cap_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    members: Mapped[list[RoutingMember]] = relationship(
        back_populates="pool",
        cascade="all, delete-orphan",
        order_by="RoutingMember.position",
        lazy="selectin",
    )

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class RoutingMember(Base):
    """A Salesforce user in a pool. `weight_centi` is the weight times 100 (exact integers)."""

    __tablename__ = "routing_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("routing_pools.id", ondelete="CASCADE"))
    # Ties in the rotation go to the earlier member, so the order is part of the config.
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(18))
    weight_centi: Mapped[int] = mapped_column(Integer, default=100)
    cap_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cap_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cap_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # None: the pool's time zone.
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # {"mon": ["09:00-17:00"], ...}; None: always working.
    working_hours: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    # [{"start": iso, "end": iso, "reason": str|None}]
    out_of_office: Mapped[list[dict[str, Any]] | None] = mapped_column(Json, nullable=True)

    pool: Mapped[RoutingPool] = relationship(back_populates="members")

    __table_args__ = (UniqueConstraint("pool_id", "user_id"),)
