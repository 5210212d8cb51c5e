"""Liveness and readiness. Readiness names each dependency that does not answer."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from aiohttp import web
from pydantic import BaseModel, Field

from bridge.web.appkeys import DB, REDIS, SETTINGS

TIMEOUT = 2.0


class Health(BaseModel):
    status: str = Field(description="Always `ok` while the process serves requests.")


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `unavailable` when any check failed.")
    checks: dict[str, str] = Field(
        description="Per dependency (redis, database, broker): `ok` or `unavailable: <reason>`."
    )


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    checks: dict[str, str] = {}

    async def check(name: str, probe: object) -> None:
        try:
            await asyncio.wait_for(probe, TIMEOUT)  # type: ignore[arg-type]
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"

    await check("redis", request.app[REDIS].ping())
    await check("database", asyncio.to_thread(request.app[DB].ping))
    if settings.broker_url != settings.redis_url:
        broker = aioredis.Redis.from_url(settings.broker_url, socket_connect_timeout=TIMEOUT)
        try:
            await check("broker", broker.ping())
        finally:
            await broker.aclose()
    else:
        checks["broker"] = checks["redis"]
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
