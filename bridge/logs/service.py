"""Recording route logs: the one function every domain calls to log an action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bridge.db.base import utcnow
from bridge.logs.tables import RouteLog
from config.logging import current_request_id

ACTIONS = frozenset({"assign", "convert", "merge", "enrich", "match", "skip", "error"})


def record_action(
    session: Session,
    *,
    tenant_id: int,
    object: str,
    object_id: str,
    action: str,
    pool: str | None = None,
    assigned_to: str | None = None,
    prev_owner: str | None = None,
    sequence: int | None = None,
    reason: str | None = None,
    diff: dict[str, Any] | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    timestamp: datetime | None = None,
) -> RouteLog:
    """Add a route log row to the caller's transaction, so the log commits with the action.

    The request id defaults to the one bound for the current request or task.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown route log action {action!r}")
    row = RouteLog(
        tenant_id=tenant_id,
        timestamp=timestamp or utcnow(),
        object=object,
        object_id=object_id,
        action=action,
        pool=pool,
        assigned_to=assigned_to,
        prev_owner=prev_owner,
        sequence=sequence,
        reason=reason,
        request_id=request_id or current_request_id(),
        idempotency_key=idempotency_key,
        diff=diff,
    )
    session.add(row)
    return row
