"""Route-log statistics over a period: counts by action, object, pool and user, the spread of
assignments over each pool's members, conversion and match rates, and per-day counts (by
action, object, pool and user).

Every figure comes from a GROUP BY over the tenant's period (index range on tenant +
timestamp): one by local day, action, object, pool and assigned user, summed into the per-day
counts, the period's counts and the pools' spread; and one per rate. Days are the tenant's
calendar days: PostgreSQL converts with AT TIME ZONE; SQLite, which has no time zones, groups
by 15-minute UTC slots (every real zone offset is a multiple of 15 minutes) that Python then
folds into local days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, case, cast, distinct, func, select
from sqlalchemy.orm import Session

from bridge.db import Database
from bridge.logs.export import ExportFilter
from bridge.logs.models import (
    DayStats,
    LogStatsResponse,
    MemberCount,
    PoolDistribution,
    Rate,
)
from bridge.logs.tables import RouteLog


def _distinct(session: Session, where: list[ColumnElement[bool]]) -> int:
    return int(session.scalar(select(func.count(distinct(RouteLog.object_id))).where(*where)) or 0)


def _rate(numerator: int, denominator: int) -> Rate:
    rate = round(numerator / denominator, 6) if denominator else None
    return Rate(numerator=numerator, denominator=denominator, rate=rate)


@dataclass
class _Counts:
    """One local day's or the period's counts, filled from (action, object, pool, assigned
    user) groups."""

    by_action: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_object: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_pool: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_user: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, action: str, sobject: str, pool: str | None, user: str | None, n: int) -> None:
        self.by_action[action] += n
        self.by_object[sobject] += n
        if pool is not None:
            self.by_pool[pool] += n
        if user is not None:
            self.by_user[user] += n

    def stats(self, day: date) -> DayStats:
        return DayStats(
            date=day, total=sum(self.by_action.values()), by_action=_by_key(self.by_action),
            by_object=_by_key(self.by_object), by_pool=_by_key(self.by_pool),
            by_user=_by_key(self.by_user),
        )  # fmt: skip


def _by_key(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items()))


def _ranked(counts: dict[str, int]) -> dict[str, int]:
    """The period's counts, largest first (ties by key)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# Only assignments count for a user (null otherwise, which also keeps the groups few).
_ASSIGNED_USER = case((RouteLog.action == "assign", RouteLog.assigned_to), else_=None)
_GROUPS = (RouteLog.action, RouteLog.object, RouteLog.pool, _ASSIGNED_USER)
_Group = tuple[date, str, str, str | None, str | None, int]


def _groups(session: Session, where: list[ColumnElement[bool]], zone: str) -> Iterator[_Group]:
    """(local day, action, object, pool, assigned user, count) groups of the period."""
    if session.get_bind().dialect.name == "postgresql":
        local_day = func.date(func.timezone(zone, RouteLog.timestamp))
        rows = session.execute(
            select(local_day, *_GROUPS, func.count()).where(*where).group_by(local_day, *_GROUPS)
        )
        for day, action, sobject, pool, user, n in rows:
            yield day, action, sobject, pool, user, int(n)
        return
    tz = ZoneInfo(zone)
    hour = func.strftime("%Y-%m-%d %H", RouteLog.timestamp)
    quarter = cast(func.strftime("%M", RouteLog.timestamp), Integer) / 15
    rows = session.execute(
        select(hour, quarter, *_GROUPS, func.count())
        .where(*where)
        .group_by(hour, quarter, *_GROUPS)
    )
    for hour_text, slot, action, sobject, pool, user, n in rows:
        start = datetime.strptime(hour_text, "%Y-%m-%d %H").replace(
            minute=int(slot) * 15, tzinfo=UTC
        )
        yield start.astimezone(tz).date(), action, sobject, pool, user, int(n)


def statistics(db: Database, where: ExportFilter, zone: str) -> LogStatsResponse:
    clauses = where.clauses()
    period = _Counts()
    days: dict[date, _Counts] = defaultdict(_Counts)
    pools: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with db.session() as session:
        for day, action, sobject, pool, user, n in _groups(session, clauses, zone):
            days[day].add(action, sobject, pool, user, n)
            period.add(action, sobject, pool, user, n)
            if pool is not None and user is not None:  # an assignment within a pool
                pools[pool][user] += n
        leads = [*clauses, RouteLog.object == "Lead"]
        converted = _distinct(session, [*leads, RouteLog.action == "convert"])
        leads_seen = _distinct(session, leads)
        matched = _distinct(session, [*clauses, RouteLog.action == "match"])
        seen = _distinct(session, clauses)
    assignments = []
    for pool in sorted(pools):
        total = sum(pools[pool].values())
        members = sorted(pools[pool].items(), key=lambda m: (-m[1], m[0]))
        assignments.append(
            PoolDistribution(
                pool=pool,
                total=total,
                members=[
                    MemberCount(assigned_to=m, count=n, share=round(n / total, 6))
                    for m, n in members
                ],
            )
        )
    return LogStatsResponse(
        from_=where.start,
        to=where.end,
        timezone=zone,
        total=sum(period.by_action.values()),
        by_action=_ranked(period.by_action),
        by_object=_ranked(period.by_object),
        by_pool=_ranked(period.by_pool),
        by_user=_ranked(period.by_user),
        assignments=assignments,
        conversion_rate=_rate(converted, leads_seen),
        match_rate=_rate(matched, seen),
        per_day=[counts.stats(day) for day, counts in sorted(days.items())],
    )
