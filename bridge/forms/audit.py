"""Writing and reading the form audit log. Emails, phones and names are redacted by the same
rules as the logs (`config.logging.Redactor`), so the audit trail holds no personal data unless
BRIDGE_LOG_PERSONAL_DATA is on. Reading applies the rules again: rows kept while personal data
was allowed are not shown in full once it is switched off.

Reading is newest first, in keyset pages: a cursor names the last row of a page as (timestamp,
id) and the next page starts strictly before it, so submissions arriving meanwhile neither
shift nor repeat pages. Cursors are signed and bound to the tenant and filters they came from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_

from bridge.coalesce import Coalescer
from bridge.db import Database
from bridge.forms.tables import FormSubmission
from bridge.keyset_cursor import Position, fingerprint
from config.logging import Redactor

CURSOR_SALT = "bridge.forms-audit.v1"
CURSOR_FILTERS = "from, to, form_source, status"


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



@dataclass(frozen=True, slots=True)
class AuditFilter:
    tenant_id: int
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    form_source: str | None = None
    status: str | None = None

    @property
    def fingerprint(self) -> str:
        start, end = (t and t.isoformat() for t in (self.start, self.end))
        return fingerprint("forms-audit", self.tenant_id, start, end, self.form_source, self.status)

    def clauses(self) -> list[ColumnElement[bool]]:
        where = [FormSubmission.tenant_id == self.tenant_id]
        if self.start is not None:
            where.append(FormSubmission.timestamp >= self.start)
        if self.end is not None:
            where.append(FormSubmission.timestamp < self.end)
        if self.form_source is not None:
            where.append(FormSubmission.form_source == self.form_source)
        if self.status is not None:
            where.append(FormSubmission.outcome == self.status)
        return where


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[dict[str, Any]]
    last: Position | None  # the page's last row when older rows follow, else None


def query(
    db: Database,
    where: AuditFilter,
    *,
    limit: int,
    before: Position | None,
    redactor: Redactor,
) -> AuditPage:
    """Up to `limit` rows, newest first, strictly older than `before` when given."""
    key = tuple_(FormSubmission.timestamp, FormSubmission.id)
    stmt = select(FormSubmission).where(*where.clauses())
    if before is not None:
        stmt = stmt.where(key < tuple_(before.timestamp, before.id))
    stmt = stmt.order_by(FormSubmission.timestamp.desc(), FormSubmission.id.desc())
    with db.session() as session:
        rows = session.scalars(stmt.limit(limit + 1)).all()  # one more: does a next page exist?
        page = rows[:limit]
        entries = [
            {"timestamp": r.timestamp, "request_id": r.request_id, "form_source": r.form_source,
             "status": r.outcome, "request": redactor.scrub(r.request),
             "result": redactor.scrub(r.result)}
            for r in page
        ]  # fmt: skip
        last = Position(page[-1].timestamp, page[-1].id) if len(rows) > limit else None
    return AuditPage(entries, last)
