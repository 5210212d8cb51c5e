"""The aiohttp application factory: resources in cleanup_ctx, middlewares, one route table.

Middleware order (outermost first) and why:
  request_id   binds the id every later log line and error body carries
  access_log   one line per request, with the final status
  error        turns every failure below into the documented error bodies
  body_limit   413 before spending anything on an oversized body
  auth         bearer key -> principal (public endpoints pass)
  rate_limit   per key and area, needs the principal
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio as aioredis
import structlog
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bridge.credits.lease import CreditLeases
from bridge.credits.service import RemainingCache
from bridge.db import Database
from bridge.routes import setup_routes
from bridge.salesforce.lazy import lazy_gateway
from bridge.tenants.service import KeyVerifier
from bridge.triggers.api import TRIGGERS
from bridge.triggers.intake import Intake
from bridge.triggers.service import TriggerConfigCache, TriggerService
from bridge.web.access_log import access_log_middleware
from bridge.web.appkeys import DB, REDIS, SALESFORCE, SETTINGS
from bridge.web.auth import VERIFIER, auth_middleware
from bridge.web.bodylimit import body_limit_middleware
from bridge.web.charging import CREDITS_CACHE, add_credits_header
from bridge.web.endpoints import install_registry
from bridge.web.errors import error_middleware
from bridge.web.metrics import metrics_flusher
from bridge.web.ratelimit import (
    RATE_LIMITER,
    RateLimiter,
    add_rate_limit_headers,
    rate_limit_middleware,
)
from bridge.web.request_id import add_request_id_header, request_id_middleware
from config.settings import Settings, get_settings

log = structlog.get_logger(__name__)

# How long a verified key (and a tenant's balance for the header) is trusted in-process:
# revocation takes effect within this many seconds.
AUTH_CACHE_SECONDS = 5.0


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            request_id_middleware,
            access_log_middleware,
            error_middleware,
            body_limit_middleware,
            auth_middleware,
            rate_limit_middleware,
        ],
    )
    app[SETTINGS] = settings
    install_registry(app)
    app.cleanup_ctx.append(_threads)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_salesforce)
    app.cleanup_ctx.append(_triggers)
    app.cleanup_ctx.append(metrics_flusher)
    app.on_response_prepare.append(_standard_headers)
    setup_routes(app)
    return app


async def _standard_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response's request id, rate-limit and credits headers: one hook, so a response
    pays for one await instead of one per header family."""
    add_request_id_header(request, response)
    add_rate_limit_headers(request, response)
    await add_credits_header(request, response)


async def _threads(app: web.Application) -> AsyncIterator[None]:
    # asyncio.to_thread's default pool is min(32, CPUs + 4) threads: 6 on a 2-core host, so a
    # burst of forms queued behind each other's SQL commits and Redis round trips. The loop
    # shuts its default pool down when it closes (run_app, asyncio.run); not done here, since
    # another app on the same loop (tests) may still need it for its own cleanup.
    pool = ThreadPoolExecutor(app[SETTINGS].web_threads, thread_name_prefix="web")
    asyncio.get_running_loop().set_default_executor(pool)
    yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = aioredis.Redis.from_url(
        app[SETTINGS].redis_url,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
        max_connections=256,
    )
    app[REDIS] = client
    app[RATE_LIMITER] = RateLimiter(client, app[SETTINGS])
    yield
    await client.aclose()


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = Database.from_settings(app[SETTINGS])
    app[DB] = db
    app[VERIFIER] = KeyVerifier(db, ttl=AUTH_CACHE_SECONDS)
    yield
    db.dispose()


async def _triggers(app: web.Application) -> AsyncIterator[None]:
    db, settings = app[DB], app[SETTINGS]
    leases = CreditLeases(
        db,
        app[REDIS],
        settings.redis_url,
        max_chunk=settings.trigger_credit_lease_max,
        idle_seconds=settings.trigger_credit_lease_idle_seconds,
    )
    # The balance every response's X-Credits-Remaining shows includes the ingest lease.
    app[CREDITS_CACHE] = RemainingCache(db, ttl=AUTH_CACHE_SECONDS, held=leases.held)
    app[TRIGGERS] = TriggerService(
        db,
        Intake(app[REDIS]),
        leases,
        app[CREDITS_CACHE],
        TriggerConfigCache(db, ttl=AUTH_CACHE_SECONDS),
    )
    maintenance = asyncio.create_task(_return_idle_leases(leases, settings))
    yield
    maintenance.cancel()
    await asyncio.wait({maintenance}, timeout=2)
    leases.close()


async def _return_idle_leases(leases: CreditLeases, settings: Settings) -> None:
    every = min(30.0, settings.trigger_credit_lease_idle_seconds / 2)
    while True:
        await asyncio.sleep(every)
        try:
            await leases.maintain()
        except (RedisError, OSError, SQLAlchemyError) as exc:
            log.warning("credit lease maintenance failed", error=type(exc).__name__)


async def _salesforce(app: web.Application) -> AsyncIterator[None]:
    gateway = lazy_gateway(app[SETTINGS])
    app[SALESFORCE] = gateway
    yield
    if gateway is not None:
        gateway.close()
