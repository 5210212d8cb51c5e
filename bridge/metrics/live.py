"""Readings taken from the shared stores when asked (scrape, dashboard): queue depth, poll lag,
dead letters. Nothing here is counted in-process, so every web process reports the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import func, select

from bridge.db import Database
from bridge.db.base import utcnow
from bridge.deadletters.service import OPEN
from bridge.deadletters.tables import DeadLetter
from bridge.triggers.models import polling_lag
from bridge.triggers.tables import PollState


@dataclass(frozen=True, slots=True)
class PollReading:
    tenant_id: int
    object: str
    last_poll_time: datetime | None
    next_poll_time: datetime | None
    lag_seconds: float | None  # as GET /v1/triggers/polling/status reports it
    records_processed: int
    last_error: str | None


def queue_depth(broker: redis.Redis) -> dict[str, int]:
    """Messages waiting (every queue: batches and polls) and taken-but-unacknowledged in the
    Celery broker."""
    # The key layout is kombu's; workers.queues holds that knowledge (no Celery import there).
    from workers.queues import backlog

    return backlog(broker)


def poll_readings(db: Database, tenant_id: int | None = None) -> list[PollReading]:
    now = utcnow()
    query = select(PollState).order_by(PollState.tenant_id, PollState.object)
    if tenant_id is not None:
        query = query.where(PollState.tenant_id == tenant_id)
    with db.session() as session:
        states = list(session.scalars(query))
    return [
        PollReading(
            tenant_id=s.tenant_id,
            object=s.object,
            last_poll_time=s.last_poll_time,
            next_poll_time=s.next_poll_time,
            lag_seconds=polling_lag(s, now),
            records_processed=s.records_processed or 0,
            last_error=s.last_error,
        )
        for s in states
    ]


def open_dead_letters(db: Database, tenant_id: int | None = None) -> dict[str, int]:
    """Open dead letters per task name."""
    query = (
        select(DeadLetter.task_name, func.count())
        .where(DeadLetter.status == OPEN)
        .group_by(DeadLetter.task_name)
    )
    if tenant_id is not None:
        query = query.where(DeadLetter.tenant_id == tenant_id)
    with db.session() as session:
        return {str(name): int(n) for name, n in session.execute(query)}


def dead_letters_recorded(db: Database) -> int:
    """Every dead letter ever written (open or replayed): a counter for alerting on rate."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def latest_dead_letters(db: Database, tenant_id: int, limit: int = 10) -> list[DeadLetter]:
    query = (
        select(DeadLetter)
        .where(DeadLetter.tenant_id == tenant_id)
        .order_by(DeadLetter.id.desc())
        .limit(limit)
    )
    with db.session() as session:
        return list(session.scalars(query))
