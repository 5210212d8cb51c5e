"""Debits for high-volume endpoints (trigger ingest): concurrent requests share a transaction.

Each request still gets an exact answer (its debit or a 402) and its own ledger line, but the
SQL work of every request queued while the previous flush ran is done in one transaction, with
one guarded UPDATE per tenant when the tenant can pay for all of them at once. So a burst costs
a handful of transactions instead of one per request, and nothing can overspend.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bridge.credits import store
from bridge.credits.service import Debit, InsufficientCredits
from bridge.db import Database


@dataclass(frozen=True)
class DebitRequest:
    tenant_id: int
    amount: int
    endpoint: str
    request_id: str | None


class DebitBatcher:
    def __init__(self, db: Database, max_batch: int = 1000) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[tuple[DebitRequest, asyncio.Future[Debit]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def debit(
        self, tenant_id: int, amount: int, endpoint: str, request_id: str | None = None
    ) -> Debit:
        """This request's debit, or InsufficientCredits (nothing taken)."""
        future: asyncio.Future[Debit] = asyncio.get_running_loop().create_future()
        self._queue.append((DebitRequest(tenant_id, amount, endpoint, request_id), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let every runnable handler join this flush
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                outcomes = await asyncio.to_thread(self._apply, [req for req, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _apply(self, requests: list[DebitRequest]) -> list[Debit | InsufficientCredits]:
        by_tenant: dict[int, list[int]] = {}
        for index, req in enumerate(requests):
            by_tenant.setdefault(req.tenant_id, []).append(index)
        outcomes: list[Debit | InsufficientCredits | None] = [None] * len(requests)
        with self.db.session() as session:
            for tenant_id, indexes in by_tenant.items():
                total = sum(requests[i].amount for i in indexes)
                after_all = store.take(session, tenant_id, total)
                if after_all is not None:
                    # Everyone is paid for; hand out balances as if debited in arrival order.
                    running = after_all + total
                    for i in indexes:
                        running -= requests[i].amount
                        outcomes[i] = self._paid(requests[i], running)
                    continue
                for i in indexes:  # not enough for all: first come, first served
                    left = store.take(session, tenant_id, requests[i].amount)
                    if left is None:
                        outcomes[i] = InsufficientCredits(
                            requests[i].amount, store.balance(session, tenant_id)[0]
                        )
                    else:
                        outcomes[i] = self._paid(requests[i], left)
            session.add_all(
                store.entry(
                    tenant_id=req.tenant_id,
                    kind=store.DEBIT,
                    amount=req.amount,
                    endpoint=req.endpoint,
                    request_id=req.request_id,
                )
                for req, outcome in zip(requests, outcomes, strict=True)
                if isinstance(outcome, Debit) and req.amount
            )
        return [o for o in outcomes if o is not None]

    @staticmethod
    def _paid(req: DebitRequest, remaining: int) -> Debit:
        return Debit(req.tenant_id, req.amount, remaining, req.endpoint, None)
