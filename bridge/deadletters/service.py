"""Dead letters: record a task that exhausted its retries, list them, replay one.

Domain code: no Celery here. Replay takes a `publish` callable (the CLI hands it Celery's
`send_task`), so this module stays testable and the import direction stays one way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.db import Database
from bridge.db.base import utcnow
from bridge.deadletters.tables import DeadLetter
from config.logging import Redactor

OPEN = "open"
REPLAYED = "replayed"
STATUSES = (OPEN, REPLAYED)
# A dead letter keeps the last error for an operator, not a whole log file.
MAX_ERROR_CHARS = 8_000

# publish(task_name, args, kwargs, headers) -> the new task id
Publish = Callable[[str, list[Any], dict[str, Any], dict[str, Any]], str]


class DeadLetterNotFound(LookupError):
    pass


class AlreadyReplayed(RuntimeError):
    """Replaying twice would run the work twice; the operator must say --force."""


def record(
    session: Session,
    *,
    task_name: str,
    task_id: str | None,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    error: str,
    attempts: int,
    tenant_id: int | None = None,
    request_id: str | None = None,
) -> DeadLetter:
    """Add a dead letter to the caller's transaction.

    Args and kwargs are kept as they were (replay needs them exactly); the error text is
    redacted, because exception messages often quote the payload they choked on.
    """
    row = DeadLetter(
        task_name=task_name[:200],
        task_id=task_id[:64] if task_id else None,
        args=list(args),
        kwargs=dict(kwargs),
        error=Redactor().scrub_text(error)[:MAX_ERROR_CHARS],
        attempts=attempts,
        tenant_id=tenant_id,
        request_id=request_id[:64] if request_id else None,
        created_at=utcnow(),
        status=OPEN,
    )
    session.add(row)
    return row


def list_dead_letters(
    db: Database, *, status: str | None = OPEN, limit: int = 50
) -> list[DeadLetter]:
    """Newest first; `status=None` lists every row."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if status is not None:
        query = query.where(DeadLetter.status == status)
    with db.session() as session:
        return list(session.scalars(query))


def count(db: Database, *, status: str = OPEN) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(DeadLetter).where(DeadLetter.status == status)
        return int(session.scalar(query) or 0)


def get(db: Database, dead_letter_id: int) -> DeadLetter:
    with db.session() as session:
        row = session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
    return row


def replay(db: Database, dead_letter_id: int, publish: Publish, *, force: bool = False) -> str:
    """Re-publish the task with its original args and mark the row replayed; returns the new id.

    The row is locked for the whole transaction (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on
    SQLite), so two operators replaying at once publish once. If publishing fails the
    transaction rolls back and the row stays open.
    """
    with db.session() as session:
        row = session.get(DeadLetter, dead_letter_id, with_for_update=True)
        if row is None:
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
        if row.status == REPLAYED and not force:
            raise AlreadyReplayed(
                f"dead letter {dead_letter_id} was replayed at {row.replayed_at:%Y-%m-%d %H:%M:%S}"
                " UTC; use --force to run it again"
                if row.replayed_at
                else f"dead letter {dead_letter_id} was already replayed; use --force"
            )
        # `replay_of_task`: the failed run's task id, so a replay can take back what that run
        # still holds (a batch killed at its time limit leaves its record-version claims).
        headers: dict[str, Any] = {"replay_of": row.id, "replay_of_task": row.task_id}
        if row.request_id:
            # Logs of the replayed run join the original request's trail.
            headers["request_id"] = row.request_id
        new_task_id = publish(row.task_name, list(row.args), dict(row.kwargs), headers)
        row.status = REPLAYED
        row.replayed_at = utcnow()
        return new_task_id
