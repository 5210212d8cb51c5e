"""CORS for endpoints a browser calls directly (a site's form posting with a per-site key).

A preflight (`OPTIONS`) carries no key, so it is answered from the union of the origins that
active keys allow for the endpoint's scope (read from SQL, cached a few seconds): an origin no
key allows gets a 403 without CORS headers, and the browser never sends the real request. The
real request is then checked against its own key's `allowed_origins` by the auth middleware;
its response (errors included, so the page can read a 422) carries
`Access-Control-Allow-Origin` for that origin only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from bridge.db import Database
from bridge.tenants.tables import ApiKey
from bridge.web.appkeys import DB
from bridge.web.endpoints import Endpoint, add_endpoint

ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key"
MAX_AGE_SECONDS = 600
CACHE_SECONDS = 5.0


class AllowedOrigins:
    """Origins allowed by any active key with `scope` (or with no scope limit)."""

    def __init__(self, db: Database, scope: str, ttl: float = CACHE_SECONDS) -> None:
        self.db = db
        self.scope = scope
        self.ttl = ttl
        self._value: frozenset[str] = frozenset()
        self._at = -1e9

    def _load(self) -> frozenset[str]:
        with self.db.session() as session:
            rows = session.execute(
                select(ApiKey.scopes, ApiKey.allowed_origins).where(ApiKey.revoked_at.is_(None))
            ).all()
        return frozenset(
            origin.rstrip("/")
            for scopes, origins in rows
            if not scopes or self.scope in scopes
            for origin in origins or ()
        )

    async def get(self) -> frozenset[str]:
        if time.monotonic() - self._at > self.ttl:
            self._value = await asyncio.to_thread(self._load)
            self._at = time.monotonic()
        return self._value


def enable_cors(app: web.Application, path: str, methods: str, scope: str) -> None:
    """Answer preflights for `path` and add CORS headers to its responses."""
    origins_key = web.AppKey(f"cors_origins:{path}", AllowedOrigins)

    async def origins(app: web.Application) -> AsyncIterator[None]:
        app[origins_key] = AllowedOrigins(app[DB], scope)
        yield

    async def preflight(request: web.Request) -> web.Response:
        origin = (request.headers.get("Origin") or "").rstrip("/")
        if not origin or origin not in await request.app[origins_key].get():
            return web.json_response({"success": False, "error": "Origin not allowed"}, status=403)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
                "Vary": "Origin",
            },
        )

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path != path or request.method == "OPTIONS":
            return
        origin = (request.headers.get("Origin") or "").rstrip("/")
        if origin and origin in await request.app[origins_key].get():
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, X-Credits-Remaining"
            response.headers.add("Vary", "Origin")

    app.cleanup_ctx.append(origins)
    app.on_response_prepare.append(add_headers)
    add_endpoint(
        app,
        Endpoint("OPTIONS", path, preflight, "CORS preflight", public=True, in_schema=False),
    )
