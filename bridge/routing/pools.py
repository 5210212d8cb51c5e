"""Pools as the rotation sees them, their SQL store, and a short per-process cache.

`Pool`/`Member` are frozen, parsed once (time zones, working-hour minutes, weights in
hundredths) so a pick does no parsing. The store is the only code that touches the tables.
"""

from __future__ import annotations

import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db import Database
from bridge.routing.models import DAYS, Caps, MemberSpec, OutOfOffice, PoolDefinition, PoolSpec
from bridge.routing.tables import RoutingMember, RoutingPool

# weekday (0 = Monday) -> ((start minute, end minute), ...), end exclusive.
Schedule = dict[int, tuple[tuple[int, int], ...]]
CapTriple = tuple[int | None, int | None, int | None]


@dataclass(frozen=True)
class Member:
    user_id: str
    weight: int  # hundredths: exact integer arithmetic in Lua
    caps: CapTriple
    zone: zoneinfo.ZoneInfo
    schedule: Schedule | None
    out_of_office: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True)
class Pool:
    id: int
    tenant_id: int
    name: str
    paused: bool
    zone: zoneinfo.ZoneInfo
    caps: CapTriple
    members: tuple[Member, ...]

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id), None)


class PoolNotFound(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no pool named {name!r}")
        self.name = name


class PoolExists(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a pool named {name!r} already exists")
        self.name = name


# -- parsing ----------------------------------------------------------------------------------
def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_schedule(hours: dict[str, list[str]] | None) -> Schedule | None:
    """Working hours as minute ranges per weekday; overnight ranges spill into the next day."""
    if hours is None:
        return None
    days: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
    for name, ranges in hours.items():
        day = DAYS.index(name)
        for text in ranges:
            start, end = _minutes(text[:5]), _minutes(text[6:])
            if end > start:
                days[day].append((start, end))
            else:
                days[day].append((start, 24 * 60))
                if end:
                    days[(day + 1) % 7].append((0, end))
    return {d: tuple(sorted(r)) for d, r in days.items() if r}


def _caps(caps: Caps) -> CapTriple:
    return (caps.hour, caps.day, caps.month)


def to_pool(row: RoutingPool) -> Pool:
    zone = zoneinfo.ZoneInfo(row.time_zone)
    members = tuple(
        Member(
            user_id=m.user_id,
            weight=m.weight_centi,
            caps=(m.cap_hour, m.cap_day, m.cap_month),
            zone=zoneinfo.ZoneInfo(m.time_zone) if m.time_zone else zone,
            schedule=parse_schedule(m.working_hours),
            out_of_office=tuple(
                (p.start, p.end)
                for p in (OutOfOffice.model_validate(o) for o in m.out_of_office or ())
            ),
        )
        for m in row.members
    )
    return Pool(
        row.id,
        row.tenant_id,
        row.name,
        row.paused,
        zone,
        (row.cap_hour, row.cap_day, row.cap_month),
        members,
    )


def to_spec(row: RoutingPool) -> PoolSpec:
    return PoolSpec(
        name=row.name,
        description=row.description,
        paused=row.paused,
        time_zone=row.time_zone,
        caps=Caps(hour=row.cap_hour, day=row.cap_day, month=row.cap_month),
        members=[
            MemberSpec(
                user_id=m.user_id,
                weight=Decimal(m.weight_centi) / 100,
                caps=Caps(hour=m.cap_hour, day=m.cap_day, month=m.cap_month),
                time_zone=m.time_zone,
                working_hours=m.working_hours,
                out_of_office=[OutOfOffice.model_validate(o) for o in m.out_of_office or ()],
            )
            for m in row.members
        ],
    )


def _apply(row: RoutingPool, spec: PoolDefinition) -> None:
    row.description = spec.description
    row.paused = spec.paused
    row.time_zone = spec.time_zone
    row.cap_hour, row.cap_day, row.cap_month = _caps(spec.caps)
    existing = {m.user_id: m for m in row.members}
    members = []
    for position, member in enumerate(spec.members):
        item = existing.get(member.user_id) or RoutingMember(user_id=member.user_id)
        item.position = position
        item.weight_centi = int(member.weight * 100)
        item.cap_hour, item.cap_day, item.cap_month = _caps(member.caps)
        item.time_zone = member.time_zone
        item.working_hours = member.working_hours
        item.out_of_office = [o.model_dump(mode="json") for o in member.out_of_office]
        members.append(item)
    row.members = members


# -- store ------------------------------------------------------------------------------------
def find(session: Session, tenant_id: int, name: str) -> RoutingPool | None:
    return session.scalar(
        select(RoutingPool).where(RoutingPool.tenant_id == tenant_id, RoutingPool.name == name)
    )


def list_rows(session: Session, tenant_id: int) -> list[RoutingPool]:
    query = select(RoutingPool).where(RoutingPool.tenant_id == tenant_id).order_by(RoutingPool.name)
    return list(session.scalars(query))


def create(session: Session, tenant_id: int, spec: PoolSpec) -> RoutingPool:
    if find(session, tenant_id, spec.name) is not None:
        raise PoolExists(spec.name)
    row = RoutingPool(tenant_id=tenant_id, name=spec.name)
    _apply(row, spec)
    session.add(row)
    session.flush()
    return row


def replace(
    session: Session, tenant_id: int, name: str, spec: PoolDefinition
) -> tuple[RoutingPool, bool]:
    """Create or replace a pool's definition; True when it was created."""
    row = find(session, tenant_id, name)
    created = row is None
    if row is None:
        row = RoutingPool(tenant_id=tenant_id, name=name)
        session.add(row)
    _apply(row, spec)
    session.flush()
    return row, created


def delete(session: Session, tenant_id: int, name: str) -> bool:
    row = find(session, tenant_id, name)
    if row is None:
        return False
    session.delete(row)
    return True


class PoolCache:
    """Pools by (tenant, name), re-read from SQL after `ttl` seconds.

    Changes made through this process are seen at once (`forget`); other processes see them
    within `ttl` (2 s by default), which bounds how stale an out-of-office change can be.
    """

    def __init__(
        self, db: Database, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[int, str], tuple[float, Pool | None]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: int, name: str) -> Pool | None:
        key = (tenant_id, name)
        now = self.clock()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with self.db.session() as session:
            row = find(session, tenant_id, name)
            pool = to_pool(row) if row is not None else None
        with self._lock:
            self._entries[key] = (now, pool)
        return pool

    def require(self, tenant_id: int, name: str) -> Pool:
        pool = self.get(tenant_id, name)
        if pool is None:
            raise PoolNotFound(name)
        return pool

    def forget(self, tenant_id: int, name: str) -> None:
        with self._lock:
            self._entries.pop((tenant_id, name), None)
