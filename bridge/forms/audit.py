"""Writing and reading the form audit log. Emails, phones and names are redacted by the same
rules as the logs (`config.logging.Redactor`), so the audit trail holds no personal data unless
BRIDGE_LOG_PERSONAL_DATA is on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.db import Database
from bridge.forms.tables import FormSubmission
from config.logging import Redactor


def record(
    db: Database,
    redactor: Redactor,
    *,
    tenant_id: int,
    request_id: str,
    form_source: str,
    outcome: str,
    request: dict[str, Any],
    result: dict[str, Any],
) -> None:
    with db.session() as session:
        session.add(
            FormSubmission(
                tenant_id=tenant_id, request_id=request_id, form_source=form_source[:100],
                outcome=outcome, request=redactor.scrub(request), result=redactor.scrub(result),
            )
        )  # fmt: skip


def recent(db: Database, tenant_id: int, limit: int = 100) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.scalars(
            select(FormSubmission)
            .where(FormSubmission.tenant_id == tenant_id)
            .order_by(FormSubmission.timestamp.desc(), FormSubmission.id.desc())
            .limit(limit)
        ).all()
        return [
            {"timestamp": r.timestamp.isoformat(), "request_id": r.request_id,
             "form_source": r.form_source, "outcome": r.outcome, "request": r.request,
             "result": r.result}
            for r in rows
        ]  # fmt: skip
