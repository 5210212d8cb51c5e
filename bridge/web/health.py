"""Liveness and readiness. Readiness names each dependency that does not answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import redis.asyncio as aioredis
from aiohttp import web
from pydantic import BaseModel, Field

from bridge.metrics.counters import SF_LIMIT, SF_OBSERVED_AT, SF_USED
from bridge.metrics.recorder import read_gauges
from bridge.web.appkeys import DB, REDIS, SETTINGS

TIMEOUT = 2.0


class Health(BaseModel):
    status: str = Field(description="Always `ok` while the process serves requests.")


class SalesforceUsage(BaseModel):
    api_used: int | None = Field(description="Daily API requests used, per `Sforce-Limit-Info`.")
    api_limit: int | None = Field(description="The org's daily API request limit.")
    share_used: float | None
    observed_at: datetime | None = Field(description="When a bridge process last read it.")


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `unavailable` when any check failed.")
    checks: dict[str, str] = Field(
        description="Per dependency (redis, database, broker): `ok` or `unavailable: <reason>`."
    )
    salesforce: SalesforceUsage | None = Field(
        None,
        description="Informational, never fails readiness (the API accepts work while "
        "Salesforce is away): the org's API usage as the workers last saw it.",
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
    body = Readiness(
        status="ready" if ready else "unavailable",
        checks=checks,
        salesforce=await _salesforce_usage(request) if checks["redis"] == "ok" else None,
    )
    return web.json_response(body.model_dump(mode="json"), status=200 if ready else 503)


async def _salesforce_usage(request: web.Request) -> SalesforceUsage | None:
    try:
        seen = await asyncio.wait_for(
            read_gauges(request.app[REDIS], SF_USED, SF_LIMIT, SF_OBSERVED_AT), TIMEOUT
        )
    except Exception:
        return None
    used, limit, at = seen.get(SF_USED), seen.get(SF_LIMIT), seen.get(SF_OBSERVED_AT)
    return SalesforceUsage(
        api_used=int(used) if used is not None else None,
        api_limit=int(limit) if limit is not None else None,
        share_used=round(used / limit, 4) if used is not None and limit else None,
        observed_at=datetime.fromtimestamp(at, tz=UTC) if at is not None else None,
    )
