"""Intake and dispatcher against a real Redis: every accepted id reaches exactly one batch."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from bridge.triggers.dispatcher import Batch, Dispatcher
from bridge.triggers.intake import Intake, Submission

LEADS = [f"00Q{n:012d}" for n in range(10_000)]


def _sub(ids: list[str], dedupe: str | None = None, tenant: int = 1) -> Submission:
    return Submission(
        tenant_id=tenant, object="Lead", ids=tuple(ids), event="after_insert",
        source="webhook", request_id="rid", dedupe_key=dedupe,
    )  # fmt: skip


async def test_burst_of_single_callouts_becomes_full_batches(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    intake = Intake(client)
    results = await asyncio.gather(*(intake.accept(_sub([i], dedupe=i)) for i in LEADS))
    assert not any(r.duplicate for r in results)
    # The same webhook-ids again: accepted once, answered with the original job id.
    again = await asyncio.gather(*(intake.accept(_sub([i], dedupe=i)) for i in LEADS[:50]))
    assert all(r.duplicate for r in again)
    assert [r.job_id for r in again] == [r.job_id for r in results[:50]]
    await client.aclose()

    batches: list[Batch] = []
    sync = redis.Redis.from_url(redis_url)
    dispatcher = Dispatcher(sync, batches.append, consumer="t1", linger=0.05)
    dispatcher.ensure_group()
    while dispatcher.step(block_ms=100):
        pass
    dispatcher.flush(force=True)
    ids = [item.id for b in batches for item in b.items]
    assert sorted(ids) == sorted(LEADS)  # every id exactly once
    assert len(batches) == 50 and all(len(b.items) == 200 for b in batches)
    assert sync.xlen("bridge:triggers:stream") == 0  # acked and deleted
    sync.close()


async def test_unacked_entries_are_claimed_by_another_dispatcher(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await Intake(client).accept(_sub(LEADS[:3]))
    await client.aclose()
    sync = redis.Redis.from_url(redis_url)

    def crash(_batch: Batch) -> None:
        raise RuntimeError("worker broker down")

    first = Dispatcher(sync, crash, consumer="dead", linger=0)
    first.ensure_group()
    with pytest.raises(RuntimeError):
        first.step(block_ms=100)
    batches: list[Batch] = []
    second = Dispatcher(sync, batches.append, consumer="alive", linger=0, claim_idle=0.0)
    second._claim_stale()
    second.flush(force=True)
    assert [i.id for b in batches for i in b.items] == LEADS[:3]
    sync.close()
