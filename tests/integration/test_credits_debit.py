"""The one reserve-and-debit: never overspends under real concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bridge.credits import service
from bridge.credits.service import InsufficientCredits
from bridge.credits.store import Tags
from bridge.credits.tables import CreditEntry
from bridge.db import Database
from bridge.tenants.service import ensure_tenant


def new_tenant(db: Database, name: str = "acme") -> int:
    with db.session() as session:
        return ensure_tenant(session, name).id


def test_fifty_concurrent_debits_against_ten(any_database_url: str) -> None:
    db = Database(any_database_url)
    try:
        tenant = new_tenant(db)
        service.grant(db, tenant, 10)
        start = threading.Barrier(50)

        def attempt(i: int) -> bool:
            start.wait()  # release all 50 at once
            try:
                service.debit(db, tenant, 1, "POST /v1/enrich/phone",
                              Tags(custom_key="i", custom_value=str(i)))  # fmt: skip
                return True
            except InsufficientCredits as exc:
                assert exc.required == 1 and exc.remaining == 0
                return False

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(attempt, range(50)))
        assert results.count(True) == 10
        assert service.balance(db, tenant) == service.Balance(remaining=0, total=10)
        with db.session() as session:
            debits = session.scalars(select(CreditEntry).where(CreditEntry.kind == "debit")).all()
        assert len(debits) == 10 and sum(d.amount for d in debits) == 10
    finally:
        db.dispose()


def test_debit_refund_grant_and_ledger(db: Database) -> None:
    tenant = new_tenant(db)
    with pytest.raises(InsufficientCredits) as nothing:
        service.debit(db, tenant, 1, "x")  # never granted: no balance row yet
    assert (nothing.value.required, nothing.value.remaining) == (1, 0)
    assert service.grant(db, tenant, 20) == 20
    spent = service.debit(db, tenant, 7, "POST /v1/forms/submit",
                          Tags(workflow_id="wf-1", workflow_run_id="run-1"),
                          request_id="req-1")  # fmt: skip
    assert spent.remaining == 13 and spent.entry_id is not None
    free = service.debit(db, tenant, 0, "cached")  # cached results cost nothing, write nothing
    assert free.entry_id is None and free.remaining == 13
    with pytest.raises(InsufficientCredits) as raised:
        service.debit(db, tenant, 14, "too much")
    assert (raised.value.required, raised.value.remaining) == (14, 13)
    assert service.refund(db, spent) == 20
    assert service.balance(db, tenant) == service.Balance(20, 20)
    with pytest.raises(ValueError):
        service.debit(db, tenant, -1, "negative")
    with db.session() as session:
        kinds = [(e.kind, e.amount, e.workflow_id, e.request_id) for e in session.scalars(
            select(CreditEntry).order_by(CreditEntry.id))]  # fmt: skip
    assert kinds == [
        ("grant", 20, None, None),
        ("debit", 7, "wf-1", "req-1"),
        ("refund", 7, "wf-1", None),
    ]


async def test_async_debit_runs_off_the_loop(db: Database) -> None:
    tenant = new_tenant(db)
    service.grant(db, tenant, 5)
    spent = await service.adebit(db, tenant, 2, "POST /v1/match")
    assert spent.remaining == 3
    assert await service.arefund(db, spent) == 5
