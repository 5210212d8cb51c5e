"""Debits for high-volume endpoints (trigger ingest): concurrent requests share a transaction.

Each request still gets an exact answer (its debit or a 402) and its own ledger line, but the
SQL of every request queued while the previous flush ran is done in one transaction (through a
`Coalescer`), with one guarded UPDATE per tenant when the tenant can pay for all of them at
once and one bulk INSERT of ledger lines. A burst costs a handful of transactions instead of
one per request, and nothing can overspend.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import insert

from bridge.coalesce import Coalescer
from bridge.credits import store
from bridge.credits.service import Debit, InsufficientCredits
from bridge.credits.store import NO_TAGS, Tags
from bridge.credits.tables import CreditEntry
from bridge.db import Database
from bridge.db.base import utcnow


@dataclass(frozen=True)
class DebitRequest:
    tenant_id: int
    amount: int
    endpoint: str
    request_id: str | None
    tags: Tags = NO_TAGS


class DebitBatcher:
    def __init__(self, db: Database, max_batch: int = 1000) -> None:
        self.db = db
        self._coalescer: Coalescer[DebitRequest, Debit] = Coalescer(self._flush, max_batch)

    async def debit(
        self,
        tenant_id: int,
        amount: int,
        endpoint: str,
        request_id: str | None = None,
        tags: Tags = NO_TAGS,
    ) -> Debit:
        """This request's debit, or InsufficientCredits (nothing taken). `tags` go on its ledger
        line and on the returned Debit, so a refund of it carries them too."""
        return await self._coalescer.submit(
            DebitRequest(tenant_id, amount, endpoint, request_id, tags)
        )

    async def _flush(self, requests: list[DebitRequest]) -> list[Debit | InsufficientCredits]:
        return await asyncio.to_thread(self._apply, requests)

    def _apply(self, requests: list[DebitRequest]) -> list[Debit | InsufficientCredits]:
        by_tenant: dict[int, list[int]] = {}
        for index, req in enumerate(requests):
            by_tenant.setdefault(req.tenant_id, []).append(index)
        outcomes: list[Debit | InsufficientCredits] = [InsufficientCredits(0, 0)] * len(requests)
        with self.db.session() as session:
            for tenant_id, indexes in by_tenant.items():
                total = sum(requests[i].amount for i in indexes)
                after_all = store.take(session, tenant_id, total)
                if after_all is not None:
                    # Everyone is paid for; hand out balances as if debited in arrival order.
                    running = after_all + total
                    for i in indexes:
                        running -= requests[i].amount
                        outcomes[i] = _paid(requests[i], running)
                    continue
                for i in indexes:  # not enough for all: first come, first served
                    left = store.take(session, tenant_id, requests[i].amount)
                    outcomes[i] = (
                        _paid(requests[i], left)
                        if left is not None
                        else InsufficientCredits(
                            requests[i].amount, store.balance(session, tenant_id)[0]
                        )
                    )
            now = utcnow()
            lines = [
                {
                    "tenant_id": req.tenant_id,
                    "kind": store.DEBIT,
                    "amount": req.amount,
                    "endpoint": req.endpoint,
                    "request_id": req.request_id,
                    "created_at": now,
                    **req.tags.columns(),
                }
                for req, outcome in zip(requests, outcomes, strict=True)
                if isinstance(outcome, Debit) and req.amount
            ]
            if lines:
                session.execute(insert(CreditEntry), lines)
        return outcomes


def _paid(req: DebitRequest, remaining: int) -> Debit:
    return Debit(req.tenant_id, req.amount, remaining, req.endpoint, None, req.tags)
