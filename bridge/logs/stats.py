"""Route-log statistics over a period: counts by action, object, pool and user, the spread of
assignments over each pool's members, conversion and match rates, and per-day totals.

Every figure is one GROUP BY over the tenant's period (index range on tenant + timestamp).
Days are the tenant's calendar days: PostgreSQL converts with AT TIME ZONE; SQLite, which has
no time zones, groups by 15-minute UTC slots (every real zone offset is a multiple of 15
minutes) that Python then folds into local days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, cast, distinct, func, select
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


def _counts(session: Session, column: Any, where: list[ColumnElement[bool]]) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count()).where(*where, column.is_not(None)).group_by(column)
    )
    return {str(key): int(n) for key, n in sorted(rows, key=lambda r: (-r[1], str(r[0])))}


def _distinct(session: Session, where: list[ColumnElement[bool]]) -> int:
    return int(session.scalar(select(func.count(distinct(RouteLog.object_id))).where(*where)) or 0)


def _rate(numerator: int, denominator: int) -> Rate:
    rate = round(numerator / denominator, 6) if denominator else None
    return Rate(numerator=numerator, denominator=denominator, rate=rate)


def _per_day(
    session: Session, where: list[ColumnElement[bool]], zone: str
) -> dict[date, dict[str, int]]:
    days: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if session.get_bind().dialect.name == "postgresql":
        local_day = func.date(func.timezone(zone, RouteLog.timestamp))
        rows = session.execute(
            select(local_day, RouteLog.action, func.count())
            .where(*where)
            .group_by(local_day, RouteLog.action)
        )
        for day, action, n in rows:
            days[day][action] += int(n)
        return days
    tz = ZoneInfo(zone)
    hour = func.strftime("%Y-%m-%d %H", RouteLog.timestamp)
    quarter = cast(func.strftime("%M", RouteLog.timestamp), Integer) / 15
    rows = session.execute(
        select(hour, quarter, RouteLog.action, func.count())
        .where(*where)
        .group_by(hour, quarter, RouteLog.action)
    )
    for hour_text, slot, action, n in rows:
        start = datetime.strptime(hour_text, "%Y-%m-%d %H").replace(
            minute=int(slot) * 15, tzinfo=UTC
        )
        days[start.astimezone(tz).date()][action] += int(n)
    return days


def statistics(db: Database, where: ExportFilter, zone: str) -> LogStatsResponse:
    clauses = where.clauses()
    with db.session() as session:
        by_action = _counts(session, RouteLog.action, clauses)
        by_object = _counts(session, RouteLog.object, clauses)
        by_pool = _counts(session, RouteLog.pool, clauses)
        assigned = [*clauses, RouteLog.action == "assign"]
        by_user = _counts(session, RouteLog.assigned_to, assigned)
        spread = session.execute(
            select(RouteLog.pool, RouteLog.assigned_to, func.count())
            .where(*assigned, RouteLog.pool.is_not(None), RouteLog.assigned_to.is_not(None))
            .group_by(RouteLog.pool, RouteLog.assigned_to)
        )
        pools: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for pool, member, n in spread:
            pools[pool].append((member, int(n)))
        leads = [*clauses, RouteLog.object == "Lead"]
        converted = _distinct(session, [*leads, RouteLog.action == "convert"])
        leads_seen = _distinct(session, leads)
        matched = _distinct(session, [*clauses, RouteLog.action == "match"])
        seen = _distinct(session, clauses)
        days = _per_day(session, clauses, zone)
    assignments = []
    for pool in sorted(pools):
        total = sum(n for _, n in pools[pool])
        members = sorted(pools[pool], key=lambda m: (-m[1], m[0]))
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
        total=sum(by_action.values()),
        by_action=by_action,
        by_object=by_object,
        by_pool=by_pool,
        by_user=by_user,
        assignments=assignments,
        conversion_rate=_rate(converted, leads_seen),
        match_rate=_rate(matched, seen),
        per_day=[
            DayStats(date=day, total=sum(actions.values()), by_action=dict(sorted(actions.items())))
            for day, actions in sorted(days.items())
        ],
    )
