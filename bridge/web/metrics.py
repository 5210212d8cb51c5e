"""HTTP side of the metrics: the flusher that pushes this process's counts to Redis, and
`GET /metrics` (Prometheus text format). Requests are counted by the access-log middleware.

`/metrics` is public unless `BRIDGE_METRICS_TOKEN` is set (then `Authorization: Bearer <it>`):
it shows counts and route templates, never keys, ids or personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator

import redis
import structlog
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bridge.db import Database
from bridge.metrics import counters, live
from bridge.metrics.exposition import Readings, read_totals, render
from bridge.metrics.recorder import RECORDER
from bridge.salesforce.lazy import LazyGateway
from bridge.web.appkeys import DB, REDIS, SALESFORCE, SETTINGS
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError

log = structlog.get_logger(__name__)

BROKER = web.AppKey("metrics_broker", redis.Redis)
# A flush is one pipelined round trip; never let a stuck Redis hold up shutdown.
FLUSH_TIMEOUT = 2.0

routes = EndpointTable(tags=("Meta",))


def record_salesforce_usage(app: web.Application) -> None:
    """Count the calls this process's gateway made since the last look (forms push, convert,
    routing, match run in the web process too). A gateway nobody opened is left closed."""
    gateway = app.get(SALESFORCE)
    if isinstance(gateway, LazyGateway) and gateway.opened:
        counters.salesforce_usage(gateway().usage)


async def _flush(app: web.Application) -> None:
    record_salesforce_usage(app)
    await asyncio.wait_for(RECORDER.flush_async(app[REDIS]), FLUSH_TIMEOUT)


async def metrics_flusher(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: push this process's counts to Redis every `metrics_flush_seconds`."""
    settings = app[SETTINGS]
    app[BROKER] = redis.Redis.from_url(
        settings.broker_url, socket_timeout=2, socket_connect_timeout=2
    )

    async def loop() -> None:
        while True:
            await asyncio.sleep(settings.metrics_flush_seconds)
            try:
                await _flush(app)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("metrics flush failed; kept for the next try", error=type(exc).__name__)

    task = asyncio.create_task(loop(), name="metrics-flusher")
    yield
    task.cancel()
    await asyncio.wait({task}, timeout=FLUSH_TIMEOUT)
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        await _flush(app)  # before _salesforce's clean-up closes the gateway (added earlier)
    app[BROKER].close()


def _live(readings: Readings, db: Database, broker: redis.Redis) -> None:
    try:
        readings.queue = live.queue_depth(broker)
    except (RedisError, OSError) as exc:
        log.warning("metrics: broker unreachable", error=type(exc).__name__)
    try:
        for reading in live.poll_readings(db):
            if reading.lag_seconds is not None:
                worst = readings.poll_lag.get(reading.object, 0.0)
                readings.poll_lag[reading.object] = max(worst, reading.lag_seconds)
            failing = readings.poll_failing.get(reading.object, 0)
            readings.poll_failing[reading.object] = failing + (1 if reading.last_error else 0)
        readings.dead_letters_open = live.open_dead_letters(db)
        readings.dead_letters_recorded = live.dead_letters_recorded(db)
    except SQLAlchemyError as exc:
        log.warning("metrics: database unreachable", error=type(exc).__name__)


@routes.get(
    "/metrics",
    summary="Prometheus metrics",
    description="The whole deployment's metrics in the Prometheus text format (every web and "
    "worker process adds into shared totals). Public unless BRIDGE_METRICS_TOKEN is set.",
    public=True,
)
async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token.get_secret_value()
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "Invalid metrics token", headers={"WWW-Authenticate": "Bearer"})
    client = request.app[REDIS]
    readings = Readings()
    try:
        record_salesforce_usage(request.app)
        await RECORDER.flush_async(client)  # this process's latest counts too
        await read_totals(client, readings)
    except (RedisError, OSError) as exc:
        log.warning("metrics: redis unreachable", error=type(exc).__name__)
    await asyncio.to_thread(_live, readings, request.app[DB], request.app[BROKER])
    body, content_type = render(readings, request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})
