"""The one route table: every domain contributes its endpoints here.

A domain declares its endpoints in its `api.py` with an `EndpointTable` (see
`bridge.web.endpoints`) and is installed below; that one declaration gives the route, its
auth, its rate-limit area and its place in `/openapi.json`.
"""

from __future__ import annotations

from aiohttp import web

from bridge.agents.api import routes as agents_routes
from bridge.ai.api import routes as ai_routes
from bridge.conversion.api import routes as conversion_routes
from bridge.credits.api import routes as credits_routes
from bridge.dashboard.views import setup as setup_dashboard
from bridge.enrichment.api import routes as enrichment_routes
from bridge.forms.api import routes as forms_routes
from bridge.logs.api import setup as setup_logs
from bridge.matching.api import routes as matching_routes
from bridge.routing.api import setup as setup_routing
from bridge.triggers.api import routes as triggers_routes
from bridge.web import health
from bridge.web.endpoints import Endpoint, add_endpoint
from bridge.web.metrics import routes as metrics_routes
from bridge.web.openapi import setup_docs
from bridge.workflows.api import routes as workflows_routes


def setup_routes(app: web.Application) -> None:
    add_endpoint(
        app,
        Endpoint(
            "GET",
            "/healthz",
            health.healthz,
            "Liveness",
            tags=("Meta",),
            public=True,
            response=health.Health,
        ),
    )
    add_endpoint(
        app,
        Endpoint(
            "GET",
            "/readyz",
            health.readyz,
            "Readiness",
            tags=("Meta",),
            public=True,
            response=health.Readiness,
            responses={503: ("A dependency is down", health.Readiness)},
        ),
    )
    credits_routes.install(app)
    enrichment_routes.install(app)
    ai_routes.install(app)
    agents_routes.install(app)
    triggers_routes.install(app)
    setup_routing(app)
    matching_routes.install(app)
    forms_routes.install(app)
    workflows_routes.install(app)
    conversion_routes.install(app)  # after routing and matching: it reuses their services
    setup_logs(app)
    metrics_routes.install(app)
    setup_dashboard(app)
    setup_docs(app)
