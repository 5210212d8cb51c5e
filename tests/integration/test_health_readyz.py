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
        assert await ready.json() == {
            "status": "ready", "checks": {"redis": "ok", "database": "ok", "broker": "ok"}
        }  # fmt: skip
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
