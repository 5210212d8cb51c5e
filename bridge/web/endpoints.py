"""How an endpoint registers itself: one declaration feeds routing, auth, rate limits, OpenAPI.

A domain's `api.py` builds an `EndpointTable` and decorates its handlers:

    routes = EndpointTable(tags=("Credits",))

    @routes.get("/v1/credits/remaining", summary="Get remaining credits", area="credits",
                response=RemainingCreditsResponse)
    async def remaining(request: web.Request) -> web.Response: ...

and `bridge/routes.py` calls `routes.install(app)`. The middlewares read the declaration of
the matched route through `endpoint_of(request)`; `/openapi.json` is generated from all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute
from pydantic import BaseModel

from bridge.web.errors import Handler

# Rate-limit areas; each has a `rate_limit_<area>_per_min` setting.
AREAS = frozenset({"sync", "batch", "credits", "triggers", "logs", "stats", "forms", "workflows"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    # Rate-limit area (a key of AREAS); None: not rate-limited.
    area: str | None = None
    # Key scope needed; defaults to the area. Keys without scopes may call everything.
    scope: str | None = None
    # Credit cost as the docs state it (e.g. "5 credits per email found"); None: free.
    credits: str | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # Extra documented statuses, e.g. {404: "Run not found"} (answered with the error body),
    # or {503: ("Not ready", Readiness)} when the body is another model.
    responses: dict[int, str | tuple[str, type[BaseModel]]] = field(default_factory=dict)
    # Public endpoints skip bearer auth (health, docs) or authenticate themselves (metrics,
    # dashboard, signed webhooks): the auth middleware leaves them alone.
    public: bool = False
    # Senders that cannot set headers (Salesforce Outbound Messages) may pass `?key=`.
    key_in_query: bool = False
    # The handler applies the area's rate limit itself, inside its own Redis round trip
    # (trigger ingest); the middleware then leaves the request alone.
    limits_itself: bool = False
    in_schema: bool = True
    operation_id: str | None = None

    @property
    def required_scope(self) -> str | None:
        return self.scope or self.area

    @property
    def openapi_path(self) -> str:
        # aiohttp allows `{name:regex}`; OpenAPI wants `{name}`.
        return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", self.path)


ENDPOINTS = web.AppKey("endpoints", dict[AbstractRoute, Endpoint])
_ENDPOINT: web.RequestKey[Endpoint | None] = web.RequestKey("endpoint", Endpoint)  # or None
PUBLIC_PREFIXES = web.AppKey("public_prefixes", list[str])


def install_registry(app: web.Application) -> None:
    app[ENDPOINTS] = {}
    app[PUBLIC_PREFIXES] = []


def add_endpoint(app: web.Application, endpoint: Endpoint) -> None:
    if endpoint.area is not None and endpoint.area not in AREAS:
        raise ValueError(f"unknown rate-limit area {endpoint.area!r}")
    route = app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)
    app[ENDPOINTS][route] = endpoint


def add_public_prefix(app: web.Application, prefix: str) -> None:
    """Paths under `prefix` (e.g. static files) need no key."""
    app[PUBLIC_PREFIXES].append(prefix)


def endpoint_of(request: web.Request) -> Endpoint | None:
    # Asked by several middlewares per request: look it up once.
    try:
        return request[_ENDPOINT]
    except KeyError:
        found = request[_ENDPOINT] = request.app[ENDPOINTS].get(request.match_info.route)
        return found


def is_public(request: web.Request) -> bool:
    endpoint = endpoint_of(request)
    if endpoint is not None:
        return endpoint.public
    return any(request.path.startswith(p) for p in request.app[PUBLIC_PREFIXES])


def all_endpoints(app: web.Application) -> list[Endpoint]:
    return list(app[ENDPOINTS].values())


class EndpointTable:
    """A domain's endpoints, declared with decorators next to their handlers."""

    def __init__(self, tags: tuple[str, ...] = ()) -> None:
        self.tags = tags
        self.endpoints: list[Endpoint] = []

    def route(self, method: str, path: str, **meta: object) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            meta.setdefault("tags", self.tags)
            self.endpoints.append(Endpoint(method, path, handler, **meta))  # type: ignore[arg-type]
            return handler

        return register

    def get(self, path: str, **meta: object) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **meta)

    def post(self, path: str, **meta: object) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **meta)

    def put(self, path: str, **meta: object) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **meta)

    def patch(self, path: str, **meta: object) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **meta)

    def delete(self, path: str, **meta: object) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **meta)

    def install(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            add_endpoint(app, endpoint)
