"""Batched debits: exact outcomes per request, no overspend, one ledger line each, carrying its
tags."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from bridge.credits import service
from bridge.credits.batcher import DebitBatcher
from bridge.credits.service import Debit, InsufficientCredits
from bridge.credits.store import NO_TAGS, Tags
from bridge.credits.tables import CreditEntry
from bridge.db import Database
from bridge.tenants.tables import Tenant


def _tenant(db: Database, name: str, credits: int) -> int:
    with db.session() as s:
        tenant = Tenant(name=name)
        s.add(tenant)
        s.flush()
        tenant_id = tenant.id
    service.grant(db, tenant_id, credits)
    return tenant_id


async def test_concurrent_batched_debits_never_overspend(any_database_url: str) -> None:
    db = Database(any_database_url)
    rich = _tenant(db, "rich", 1000)
    poor = _tenant(db, "poor", 10)
    batcher = DebitBatcher(db)
    calls = [batcher.debit(rich, 2, "triggers") for _ in range(100)]
    calls += [batcher.debit(poor, 3, "triggers") for _ in range(10)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    rich_ok = [o for o in outcomes[:100] if isinstance(o, Debit)]
    poor_ok = [o for o in outcomes[100:] if isinstance(o, Debit)]
    refused = [o for o in outcomes[100:] if isinstance(o, InsufficientCredits)]
    assert len(rich_ok) == 100 and len(poor_ok) == 3 and len(refused) == 7
    assert sorted(o.remaining for o in rich_ok) == list(range(800, 1000, 2))
    assert all(r.required == 3 and r.remaining == 1 for r in refused)
    assert service.remaining(db, rich) == 800 and service.remaining(db, poor) == 1
    with db.session() as s:
        lines = s.scalar(
            select(func.count()).select_from(CreditEntry).where(CreditEntry.kind == "debit")
        )
    assert lines == 103
    db.dispose()


async def test_tags_reach_the_ledger_and_refunds_net_out(database_url: str) -> None:
    db = Database(database_url)
    tenant = _tenant(db, "tagged", 20)
    batcher = DebitBatcher(db)
    tags = Tags(workflow_id="wf", workflow_run_id="run-1", custom_key="k", custom_value="v")
    kept, refunded, untagged = await asyncio.gather(
        batcher.debit(tenant, 3, "workflows:wf", "rid-1", tags),
        batcher.debit(tenant, 5, "workflows:wf", "rid-2", tags),
        batcher.debit(tenant, 7, "other"),
    )
    assert kept.tags == tags and untagged.tags == NO_TAGS
    await service.arefund(db, refunded)
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    assert service.usage(db, tenant, start, end, Tags(workflow_id="wf")) == 3
    assert service.usage(db, tenant, start, end, Tags(workflow_run_id="run-1")) == 3
    assert service.usage(db, tenant, start, end, Tags(custom_key="k", custom_value="v")) == 3
    assert service.usage(db, tenant, start, end) == 10
    db.dispose()
