"""The aiohttp application factory: resources in cleanup_ctx, middlewares, one route table."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

from bridge.db import Database
from bridge.routes import setup_routes
from bridge.web.appkeys import DB, REDIS, SETTINGS
from bridge.web.errors import error_middleware
from bridge.web.request_id import add_request_id_header, request_id_middleware
from config.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[request_id_middleware, error_middleware],
    )
    app[SETTINGS] = settings
    app["settings"] = settings  # plain-string alias for middlewares that only see the request
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_database)
    app.on_response_prepare.append(add_request_id_header)
    setup_routes(app)
    return app


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = aioredis.Redis.from_url(
        app[SETTINGS].redis_url,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
        max_connections=256,
    )
    app[REDIS] = client
    yield
    await client.aclose()


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = Database.from_settings(app[SETTINGS])
    app[DB] = db
    yield
    db.dispose()
