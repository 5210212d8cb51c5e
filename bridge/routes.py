"""The one route table: every domain contributes its handlers here."""

from __future__ import annotations

from aiohttp import web

from bridge.web import health


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
