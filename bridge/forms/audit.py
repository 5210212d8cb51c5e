"""Writing and reading the form audit log. Emails, phones and names are redacted by the same
rules as the logs (`config.logging.Redactor`), so the audit trail holds no personal data unless
BRIDGE_LOG_PERSONAL_DATA is on."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bridge.coalesce import Coalescer
from bridge.db import Database
from bridge.forms.tables import FormSubmission
from config.logging import Redactor


class AuditWriter:
    """Audit rows of concurrent submissions go into SQL together: one transaction per batch
    (coalesced), so a campaign burst does not queue on one write per request."""

    def __init__(self, db: Database, redactor: Redactor) -> None:
        self.db = db
        self.redactor = redactor
        self._coalescer: Coalescer[FormSubmission, None] = Coalescer(self._flush, 500)

    async def record(
        self, *, tenant_id: int, request_id: str, form_source: str, outcome: str,
        request: dict[str, Any], result: dict[str, Any],
    ) -> None:  # fmt: skip
        row = FormSubmission(
            tenant_id=tenant_id, request_id=request_id, form_source=form_source[:100],
            outcome=outcome, request=self.redactor.scrub(request),
            result=self.redactor.scrub(result),
        )  # fmt: skip
        await self._coalescer.submit(row)

    async def _flush(self, rows: list[FormSubmission]) -> list[None]:
        await asyncio.to_thread(self._insert, rows)
        return [None] * len(rows)

    def _insert(self, rows: list[FormSubmission]) -> None:
        with self.db.session() as session:
            session.add_all(rows)


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
