"""The workflow audit log: trigger request and response, every step outcome, the end state.
Personal data is redacted by the log rules (`config.logging.Redactor`) before it is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.db import Database
from bridge.workflows.tables import WorkflowAudit
from config.logging import Redactor


def record(
    db: Database,
    redactor: Redactor,
    entries: list[dict[str, Any]],
) -> None:
    """Each entry: tenant_id, workflow_id, job_id, request_id, kind, step (optional), body."""
    with db.session() as session:
        for e in entries:
            session.add(
                WorkflowAudit(
                    tenant_id=e["tenant_id"], workflow_id=e["workflow_id"], job_id=e["job_id"],
                    request_id=e.get("request_id"), kind=e["kind"], step=e.get("step"),
                    body=redactor.scrub(e["body"]),
                )
            )  # fmt: skip


def query(
    db: Database,
    tenant_id: int,
    *,
    job_id: str | None = None,
    workflow_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    stmt = select(WorkflowAudit).where(WorkflowAudit.tenant_id == tenant_id)
    if job_id:
        stmt = stmt.where(WorkflowAudit.job_id == job_id)
    if workflow_id:
        stmt = stmt.where(WorkflowAudit.workflow_id == workflow_id)
    stmt = stmt.order_by(WorkflowAudit.timestamp, WorkflowAudit.id).limit(limit)
    with db.session() as session:
        return [
            {"timestamp": r.timestamp.isoformat(), "workflow_id": r.workflow_id,
             "job_id": r.job_id, "request_id": r.request_id, "kind": r.kind, "step": r.step,
             "body": r.body}
            for r in session.scalars(stmt)
        ]  # fmt: skip
