"""The reusable Idempotency-Key wrapper on a real app and Redis: 409 while running, 422 for
another body, the stored response replayed after completion, failures released."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.db import Database
from bridge.tenants import service as tenants
from bridge.web.idempotency import idempotency_key, idempotent
from config.settings import Settings


class Slow:
    """A handler that waits until released, counting its runs."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.runs = 0
        self.fail = False

    async def __call__(self, request: web.Request) -> web.Response:
        self.runs += 1
        body = await request.json()
        self.entered.set()
        await self.release.wait()
        if self.fail:
            raise web.HTTPBadRequest()
        return web.json_response(
            {"run": self.runs, "echo": body, "key": idempotency_key(request)}, status=201
        )


@pytest.fixture
async def setup(
    aiohttp_client: Any, settings: Settings, db: Database
) -> tuple[TestClient, Slow, dict]:
    slow = Slow()
    app = create_app(settings)
    app.router.add_post("/test/slow", idempotent(slow))
    client = await aiohttp_client(app)
    key = tenants.create_key(db, "acme").key
    return client, slow, {"Authorization": f"Bearer {key}"}


async def test_running_conflict_mismatch_and_replay(setup) -> None:
    client, slow, auth = setup
    headers = {**auth, "Idempotency-Key": "abc-1"}
    first = asyncio.create_task(client.post("/test/slow", json={"a": 1, "b": 2}, headers=headers))
    await asyncio.wait_for(slow.entered.wait(), 5)
    running = await client.post("/test/slow", json={"a": 1, "b": 2}, headers=headers)
    assert running.status == 409 and running.headers["Retry-After"] == "1"
    assert (await running.json())["error"].startswith("A request with this Idempotency-Key")
    other = await client.post("/test/slow", json={"a": 2}, headers=headers)
    assert other.status == 422
    slow.release.set()
    done = await first
    assert done.status == 201
    original = await done.json()
    assert original == {"run": 1, "echo": {"a": 1, "b": 2}, "key": "abc-1"}
    # Same body (keys in another order: the same JSON) -> the stored response, no second run.
    replay = await client.post("/test/slow", data='{"b": 2, "a": 1}', headers=headers)
    assert replay.status == 201 and await replay.json() == original
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert slow.runs == 1
    assert (await client.post("/test/slow", json={"a": 2}, headers=headers)).status == 422
    # Without a key every request runs.
    plain = await client.post("/test/slow", json={"a": 1, "b": 2}, headers=auth)
    assert (await plain.json())["run"] == 2


async def test_failure_releases_the_key(setup) -> None:
    client, slow, auth = setup
    slow.release.set()
    slow.fail = True
    headers = {**auth, "Idempotency-Key": "retry-me"}
    assert (await client.post("/test/slow", json={}, headers=headers)).status == 400
    slow.fail = False
    resp = await client.post("/test/slow", json={}, headers=headers)
    assert resp.status == 201 and (await resp.json())["run"] == 2
    assert "Idempotent-Replayed" not in resp.headers


async def test_keys_expire_after_the_configured_ttl_of_at_least_a_day(setup, settings) -> None:
    client, slow, auth = setup
    slow.release.set()
    await client.post("/test/slow", json={}, headers={**auth, "Idempotency-Key": "ttl"})
    from bridge.web.appkeys import REDIS

    keys = [k async for k in client.app[REDIS].scan_iter("bridge:idempotency:*")]
    assert len(keys) == 1
    ttl = await client.app[REDIS].ttl(keys[0])
    assert 86400 - 5 <= ttl <= settings.idempotency_ttl_seconds
    with pytest.raises(ValueError):
        Settings(_env_file=None, idempotency_ttl_seconds=3600)
