"""/healthz answers while the process lives; /readyz names a stopped Redis with a 503."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.app import create_app
from bridge.embedded_redis import start_embedded_redis
from config.settings import Settings


async def test_readyz_reports_stopped_redis(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    server = start_embedded_redis(tmp_path / "redis", persistent=False)
    try:
        client = await aiohttp_client(
            create_app(settings.model_copy(update={"redis_url": server.url}))
        )
        ready = await client.get("/readyz")
        assert ready.status == 200
        body = await ready.json()
        assert body["status"] == "ready"
        assert body["checks"] == {"redis": "ok", "database": "ok", "broker": "ok"}
    finally:
        server.stop()
    down = await client.get("/readyz")
    assert down.status == 503
    body = await down.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
    # Liveness does not depend on Redis.
    assert (await client.get("/healthz")).status == 200


async def test_readyz_reports_salesforce_usage_seen_by_workers(aiohttp_client, settings) -> None:
    import redis as redis_sync

    from bridge.app import create_app
    from bridge.metrics import counters
    from bridge.metrics.recorder import Recorder
    from bridge.salesforce.usage import ApiUsage

    client = await aiohttp_client(create_app(settings))
    body = await (await client.get("/readyz")).json()
    assert body["salesforce"]["api_used"] is None  # nobody has called Salesforce yet

    usage = ApiUsage()
    usage.observe_header("api-usage=1234/15000")
    recorder = Recorder()
    counters.RECORDER, saved = recorder, counters.RECORDER
    try:
        counters.salesforce_usage(usage)  # what a worker does after using the gateway
    finally:
        counters.RECORDER = saved
    sync = redis_sync.Redis.from_url(settings.redis_url)
    recorder.flush(sync)
    sync.close()
    body = await (await client.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["salesforce"]["api_used"] == 1234 and body["salesforce"]["api_limit"] == 15000
    assert body["salesforce"]["share_used"] == round(1234 / 15000, 4)
