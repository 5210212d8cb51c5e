"""SQL persistence of runs and their records (the agents domain's own tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.agents.tables import AgentRun, AgentRunRecord
from bridge.db.base import utcnow

ACTIVE = ("queued", "running")


def add_run(
    session: Session, run: AgentRun, items: Sequence[tuple[str, dict[str, Any] | None]]
) -> None:
    run.total = len(items)
    session.add(run)
    session.flush()
    session.add_all(
        AgentRunRecord(run_id=run.id, seq=seq, ref=ref[:255], input=inline)
        for seq, (ref, inline) in enumerate(items)
    )


def run_for(session: Session, run_id: str, *, lock: bool = False) -> AgentRun | None:
    query = select(AgentRun).where(AgentRun.id == run_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def pending(session: Session, run_id: str, limit: int) -> list[AgentRunRecord]:
    query = (
        select(AgentRunRecord)
        .where(AgentRunRecord.run_id == run_id, AgentRunRecord.status == "pending")
        .order_by(AgentRunRecord.seq)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim(session: Session, run_id: str, seq: int, **values: Any) -> bool:
    """Settle one pending record; False when it was already settled (then nothing changes)."""
    result = session.execute(
        update(AgentRunRecord)
        .where(
            AgentRunRecord.run_id == run_id,
            AgentRunRecord.seq == seq,
            AgentRunRecord.status == "pending",
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def bump(session: Session, run_id: str, **counts: int) -> None:
    values: dict[str, Any] = {k: getattr(AgentRun, k) + v for k, v in counts.items()}
    values["updated_at"] = utcnow()
    session.execute(update(AgentRun).where(AgentRun.id == run_id).values(**values))


def stop_pending(session: Session, run_id: str, outcome: str) -> int:
    result = session.execute(
        update(AgentRunRecord)
        .where(AgentRunRecord.run_id == run_id, AgentRunRecord.status == "pending")
        .values(status="stopped", outcome=outcome)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def all_records(session: Session, run_id: str) -> list[AgentRunRecord]:
    query = select(AgentRunRecord).where(AgentRunRecord.run_id == run_id)
    return list(session.scalars(query.order_by(AgentRunRecord.seq)))


def stale_runs(session: Session, before: datetime, limit: int = 100) -> list[AgentRun]:
    query = (
        select(AgentRun)
        .where(AgentRun.status.in_(ACTIVE), AgentRun.updated_at < before)
        .order_by(AgentRun.updated_at)
        .limit(limit)
    )
    return list(session.scalars(query))
