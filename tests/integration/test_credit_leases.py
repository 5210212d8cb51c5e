"""Trigger ingest pays from credit leases in Redis: exact under concurrency, returned when idle,
and a return interrupted by a crash is finished exactly once. Real Redis and SQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from bridge.app import AUTH_CACHE_SECONDS, create_app
from bridge.credits import service as credits
from bridge.credits.lease import CreditLeases, lease_key
from bridge.db import Database
from bridge.salesforce.ids import to_18
from bridge.tenants import service as tenants
from config.settings import Settings

ORG = to_18("00D5g000004bQ2K")
LEADS = [to_18(f"00Q5g00000{n:05d}") for n in range(200)]


def _callout(record_id: str) -> dict[str, Any]:
    return {"object": "Lead", "ids": [record_id], "event": "after_insert", "org_id": ORG}


@pytest.fixture
def tenant(db: Database) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", ORG)
    return {"key": created.key, "tenant_id": created.tenant_id,
            "auth": {"Authorization": f"Bearer {created.key}"}}  # fmt: skip


MakeLeases = Callable[..., CreditLeases]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
def make_leases(
    db: Database, client: aioredis.Redis, redis_url: str
) -> Iterator[MakeLeases]:
    """Makes CreditLeases (one per simulated web process) and closes them after the test."""
    made: list[CreditLeases] = []

    def make(**options: Any) -> CreditLeases:
        made.append(CreditLeases(db, client, redis_url, **options))
        return made[-1]

    yield make
    for one in made:
        one.close()


async def test_two_web_processes_never_overspend(
    aiohttp_client: Any, settings: Settings, db: Database, tenant: dict[str, Any]
) -> None:
    """101 credits, 120 concurrent Lead callouts (2 each) over two apps sharing Redis and SQL:
    exactly 50 accepted, the rest 402, and 1 credit left across SQL and the lease."""
    credits.grant(db, tenant["tenant_id"], 101)
    small = settings.model_copy(update={"trigger_credit_lease_max": 7})  # many refills
    one: TestClient = await aiohttp_client(create_app(small))
    two: TestClient = await aiohttp_client(create_app(small))
    calls = [
        (one if n % 2 else two).post(
            "/v1/triggers/salesforce", json=_callout(LEADS[n]), headers=tenant["auth"]
        )
        for n in range(120)
    ]
    responses = await asyncio.gather(*calls)
    statuses = sorted(r.status for r in responses)
    assert statuses.count(200) == 50 and statuses.count(402) == 70
    refused = next(r for r in responses if r.status == 402)
    assert (await refused.json())["credits_required"] == 2
    remaining = await one.get("/v1/credits/remaining", headers=tenant["auth"])
    assert (await remaining.json())["remaining_credits"] == 1


async def test_idle_lease_returns_to_the_balance_and_usage_nets_out(
    db: Database, tenant: dict[str, Any], client: aioredis.Redis, make_leases: MakeLeases
) -> None:
    tenant_id = tenant["tenant_id"]
    credits.grant(db, tenant_id, 10_000)
    leases = make_leases(max_chunk=300, idle_seconds=0.2)
    refill = await leases.refill(tenant_id, 2)  # a 300-credit chunk pays this callout's 2
    assert refill.ok and refill.held == 298 and refill.balance == 9_700
    await client.hincrby(lease_key(tenant_id), "c", -40)  # what the intake script spends
    assert await leases.maintain() == 0  # not idle yet
    await asyncio.sleep(0.3)
    assert await leases.maintain() == 258
    assert await leases.held(tenant_id) == 0
    assert credits.remaining(db, tenant_id) == 9_958
    now = datetime.now(UTC)
    used = credits.usage(db, tenant_id, now - timedelta(minutes=1), now + timedelta(seconds=1))
    assert used == 42

async def test_a_return_interrupted_by_a_crash_is_finished_once(
    db: Database, tenant: dict[str, Any], client: aioredis.Redis, make_leases: MakeLeases
) -> None:
    tenant_id = tenant["tenant_id"]
    credits.grant(db, tenant_id, 1_000)
    first = make_leases(max_chunk=50, idle_seconds=0.05)
    second = make_leases(max_chunk=50, idle_seconds=0.05)
    assert (await first.refill(tenant_id, 0)).held == 50
    await asyncio.sleep(0.1)
    # The crash: the lease moved to its returning key, the SQL refund never ran.
    returning = "bridge:credits:returning:crashed"
    await client.hset(lease_key(tenant_id), "c", 0)
    await client.set(returning, f"{tenant_id}:50")
    finished = await asyncio.gather(first.maintain(), second.maintain())
    assert sorted(finished) == [0, 50]  # one of them refunds, the other finds it done
    assert await first.maintain() == 0
    assert credits.remaining(db, tenant_id) == 1_000
    assert await client.exists(returning) == 0

async def test_a_lease_never_hides_much_of_a_small_balance(
    db: Database, tenant: dict[str, Any], client: aioredis.Redis, make_leases: MakeLeases
) -> None:
    tenant_id = tenant["tenant_id"]
    credits.grant(db, tenant_id, 400)
    leases = make_leases(max_chunk=2_000)
    refill = await leases.refill(tenant_id, 2)
    assert refill.held == 18 and refill.balance == 380  # a chunk of 1/20 of the balance
    big = await leases.refill(tenant_id, 200)  # a 100-Lead callout still gets paid
    assert big.held == 18 and big.balance == 180
    # The last credits: balance and lease together pay, and no more than that.
    assert not (await leases.refill(tenant_id, 199)).ok
    assert await leases.held(tenant_id) == 18  # put back untouched
    last = await leases.refill(tenant_id, 198)
    assert last.ok and last.balance == 0 and last.held == 0
    assert credits.balance(db, tenant_id).remaining == 0

async def test_a_low_lease_is_topped_up_in_the_background(
    db: Database, tenant: dict[str, Any], client: aioredis.Redis, make_leases: MakeLeases
) -> None:
    tenant_id = tenant["tenant_id"]
    credits.grant(db, tenant_id, 10_000)
    leases = make_leases(max_chunk=400)
    assert (await leases.refill(tenant_id, 0)).held == 400
    leases.note_spent(tenant_id, 150)  # above a quarter of the chunk: nothing to do
    assert await leases.held(tenant_id) == 400
    await client.hset(lease_key(tenant_id), "c", 90)
    leases.note_spent(tenant_id, 90)  # below: a top-up starts, nobody waits for it
    # Redis gets the chunk just before the SQL debit commits (by design): wait for both.
    for _ in range(100):
        if await leases.held(tenant_id) == 490 and credits.remaining(db, tenant_id) == 9_200:
            break
        await asyncio.sleep(0.02)
    assert await leases.held(tenant_id) == 490
    assert credits.remaining(db, tenant_id) == 10_000 - 800


async def test_paid_endpoints_report_the_balance_with_the_lease(
    aiohttp_client: Any, settings: Settings, db: Database, tenant: dict[str, Any]
) -> None:
    """After a callout parked credits in a lease, a paid sync endpoint reports the same
    remaining as /v1/credits/remaining (body and header), not the SQL balance alone."""
    credits.grant(db, tenant["tenant_id"], 10_000)
    app: TestClient = await aiohttp_client(create_app(settings))
    callout = await app.post(
        "/v1/triggers/salesforce", json=_callout(LEADS[0]), headers=tenant["auth"]
    )
    assert callout.status == 200
    enrich = await app.post(
        "/v1/enrich/company", headers=tenant["auth"],
        json={"record_id": "lease-1", "company_name": "Acme Corp, Inc.", "domain": "acme.com"},
    )  # fmt: skip
    body = await enrich.json()
    assert enrich.status == 200 and body["credits_consumed"] == 1
    total = await app.get("/v1/credits/remaining", headers=tenant["auth"])
    remaining = (await total.json())["remaining_credits"]
    assert remaining == 10_000 - 2 - 1  # the lease is counted, not spent
    assert body["credits_remaining"] == remaining
    assert enrich.headers["X-Credits-Remaining"] == str(remaining)


async def test_remaining_reported_after_an_idle_lease_went_back(
    aiohttp_client: Any, settings: Settings, db: Database, tenant: dict[str, Any]
) -> None:
    """Once the idle lease is back in SQL (and the noted lease has expired), a paid endpoint
    reports the true balance, not SQL plus a lease that no longer exists."""
    credits.grant(db, tenant["tenant_id"], 10_000)
    quick = settings.model_copy(update={"trigger_credit_lease_idle_seconds": 0.2})
    app: TestClient = await aiohttp_client(create_app(quick))
    callout = await app.post(
        "/v1/triggers/salesforce", json=_callout(LEADS[1]), headers=tenant["auth"]
    )
    assert callout.status == 200
    for _ in range(200):  # the maintenance loop returns the idle lease
        if credits.remaining(db, tenant["tenant_id"]) == 10_000 - 2:
            break
        await asyncio.sleep(0.05)
    assert credits.remaining(db, tenant["tenant_id"]) == 10_000 - 2
    await asyncio.sleep(AUTH_CACHE_SECONDS)  # what this process noted of the lease expires
    enrich = await app.post(
        "/v1/enrich/company", headers=tenant["auth"],
        json={"record_id": "lease-2", "company_name": "Acme Corp, Inc.", "domain": "acme.com"},
    )  # fmt: skip
    assert (await enrich.json())["credits_remaining"] == 10_000 - 2 - 1
    assert enrich.headers["X-Credits-Remaining"] == str(10_000 - 2 - 1)
