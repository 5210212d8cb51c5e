"""Rate limits live in Redis: shared by two app instances, 429 with Retry-After, per key/area."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.db import Database
from bridge.tenants.service import create_key
from bridge.web.ratelimit import RateLimiter
from config.settings import Settings

REMAINING = "/v1/credits/remaining"


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_credits_per_min": 4})


async def test_two_instances_share_one_limit(
    aiohttp_client: Any, limited: Settings, db: Database
) -> None:
    first: TestClient = await aiohttp_client(create_app(limited))
    second: TestClient = await aiohttp_client(create_app(limited))
    auth = {"Authorization": f"Bearer {create_key(db, 'acme').key}"}
    statuses = []
    for i in range(4):
        resp = await (first if i % 2 == 0 else second).get(REMAINING, headers=auth)
        statuses.append(resp.status)
        assert resp.headers["X-RateLimit-Limit"] == "4"
        assert resp.headers["X-RateLimit-Remaining"] == str(3 - i)
    assert statuses == [200] * 4
    for client in (first, second):
        resp = await client.get(REMAINING, headers=auth)
        assert resp.status == 429
        body = await resp.json()
        assert body["error"] == "Rate limit exceeded"
        assert set(body) == {
            "error", "details", "request_id", "credits_required", "credits_remaining",
            "retry_after",
        }  # fmt: skip
        # 4/min refills one request every 15 s.
        assert 1 <= body["retry_after"] <= 15
        assert resp.headers["Retry-After"] == str(body["retry_after"])
        assert resp.headers["X-RateLimit-Remaining"] == "0"
    # Another key of the same tenant has its own allowance.
    other = {"Authorization": f"Bearer {create_key(db, 'acme').key}"}
    assert (await second.get(REMAINING, headers=other)).status == 200


async def test_gcra_refills_gradually(redis_url: str, settings: Settings) -> None:
    client = aioredis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, settings)
    try:
        # 120/min: a burst of 120, then one every 500 ms.
        decisions = [await limiter.hit("sync", "k1", limit=120) for _ in range(120)]
        assert all(d is not None and d.allowed for d in decisions)
        denied = await limiter.hit("sync", "k1", limit=120)
        assert denied is not None and not denied.allowed and denied.retry_after == 1
        await asyncio.sleep(0.55)
        again = await limiter.hit("sync", "k1", limit=120)
        assert again is not None and again.allowed
        # Areas are separate buckets.
        assert (await limiter.hit("stats", "k1")).allowed  # type: ignore[union-attr]
        # Large log exports draw on their own, smaller allowance (2/min by default).
        large = [await limiter.hit("logs_large", "k1", settings.rate_limit_logs_large_per_min)
                 for _ in range(3)]  # fmt: skip
        assert [d.allowed for d in large if d] == [True, True, False]
    finally:
        await client.aclose()


async def test_fails_open_without_redis(settings: Settings) -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        assert await RateLimiter(client, settings).hit("sync", "k1") is None
    finally:
        await client.aclose()
