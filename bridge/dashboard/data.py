"""What the dashboard shows, gathered from the shared stores for one tenant.

Plain data (JSON-ready dicts) so the page renders it server-side first and the browser's
refresh gets exactly the same shape from /dashboard/data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import redis
from redis.exceptions import RedisError
from sqlalchemy import select

from bridge.db import Database
from bridge.db.base import utcnow
from bridge.logs import retention, stats
from bridge.logs.export import ExportFilter
from bridge.logs.tables import RouteLog
from bridge.metrics import live

FAILURES_SHOWN = 10


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def _first_line(text: str | None, width: int = 140) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def salesforce_usage(gauges: dict[str, float]) -> dict[str, Any]:
    """The org's daily API usage as last reported by any process; honest when there is none."""
    used = gauges.get("bridge_salesforce_api_daily_used")
    limit = gauges.get("bridge_salesforce_api_daily_limit")
    seen = gauges.get("bridge_salesforce_api_usage_observed_timestamp_seconds")
    if used is None or limit is None or limit <= 0:
        return {
            "available": False,
            "message": "No Salesforce usage reported yet: it is read from the Sforce-Limit-Info "
            "header of the workers' Salesforce calls.",
        }
    return {
        "available": True,
        "used": int(used),
        "limit": int(limit),
        "remaining": max(0, int(limit - used)),
        "share": round(used / limit, 4),
        "observed_at": _iso(datetime.fromtimestamp(seen).astimezone()) if seen else None,
    }


def panels(
    db: Database,
    broker: redis.Redis,
    tenant_id: int,
    gauges: dict[str, float],
    days: int = 14,
) -> dict[str, Any]:
    now = utcnow()
    policy = retention.get_policy(db, tenant_id)
    zone = retention.zone_of(policy.timezone)
    local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = local_midnight - timedelta(days=days - 1)
    period = ExportFilter(tenant_id=tenant_id, start=start, end=now + timedelta(seconds=1))
    summary = stats.statistics(db, period, zone.key)
    try:
        queue: dict[str, Any] = {"available": True, **live.queue_depth(broker)}
    except (RedisError, OSError):
        queue = {"available": False, "queued": None, "unacked": None}
    dead_open = live.open_dead_letters(db, tenant_id)
    with db.session() as session:
        errors = list(
            session.execute(
                select(
                    RouteLog.timestamp, RouteLog.object, RouteLog.object_id, RouteLog.reason,
                    RouteLog.request_id,
                )
                .where(RouteLog.tenant_id == tenant_id, RouteLog.action == "error")
                .order_by(RouteLog.timestamp.desc(), RouteLog.id.desc())
                .limit(FAILURES_SHOWN)
            )
        )  # fmt: skip
    dead = live.latest_dead_letters(db, tenant_id, FAILURES_SHOWN)
    day_labels = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
    per_day = {d.date.isoformat(): d.by_action for d in summary.per_day}
    actions = sorted({a for d in summary.per_day for a in d.by_action})
    return {
        "generated_at": _iso(now),
        "tenant_id": tenant_id,
        "timezone": zone.key,
        "period_days": days,
        "totals": {"actions": summary.total, **summary.by_action},
        "assignments": [
            {
                "pool": p.pool,
                "total": p.total,
                "members": [{"user": m.assigned_to, "count": m.count} for m in p.members],
            }
            for p in summary.assignments
        ],
        "actions_over_time": {
            "days": day_labels,
            "series": {a: [per_day.get(d, {}).get(a, 0) for d in day_labels] for a in actions},
        },
        "conversion_rate": summary.conversion_rate.rate,
        "match_rate": summary.match_rate.rate,
        "polling": [
            {
                "object": r.object,
                "last_poll_time": _iso(r.last_poll_time),
                "next_poll_time": _iso(r.next_poll_time),
                "lag_seconds": r.lag_seconds,
                "records_processed": r.records_processed,
                "status": "error" if r.last_error else ("ok" if r.last_poll_time else "never"),
                "last_error": _first_line(r.last_error),
            }
            for r in live.poll_readings(db, tenant_id)
        ],
        "queue": queue,
        "dead_letters_open": sum(dead_open.values()),
        "salesforce": salesforce_usage(gauges),
        "failures": {
            "dead_letters": [
                {
                    "at": _iso(d.created_at),
                    "task": d.task_name,
                    "request_id": d.request_id,
                    "status": d.status,
                    "error": _first_line(d.error),
                }
                for d in dead
            ],
            "route_logs": [
                {
                    "at": _iso(ts),
                    "object": obj,
                    "object_id": oid,
                    "reason": _first_line(reason),
                    "request_id": rid,
                }
                for ts, obj, oid, reason, rid in errors
            ],
        },
    }
