"""Thin handlers of the dashboard: sign-in/out, the page, its JSON refresh, static files.

Security: the session cookie is Secure (configurable for plain-HTTP LANs), HttpOnly and
SameSite=Strict; every state-changing form (sign-in, sign-out) carries a CSRF token checked in
constant time, and a cross-origin `Origin` header is refused. Pages forbid framing and load
scripts only from this origin (CSP), which is why charts are served from the package.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from redis.exceptions import RedisError

from bridge.dashboard import data
from bridge.dashboard.session import (
    COOKIE,
    CSRF_COOKIE,
    DashboardSession,
    SessionCodec,
    new_csrf_token,
)
from bridge.metrics.exposition import Readings, read_totals
from bridge.tenants.models import Principal
from bridge.tenants.service import KeyStatus
from bridge.web.appkeys import DB, REDIS, SETTINGS
from bridge.web.auth import VERIFIER
from bridge.web.endpoints import EndpointTable, add_public_prefix
from bridge.web.metrics import BROKER
from bridge.web.secret_key import secret_key

HERE = Path(__file__).parent
STATIC_PREFIX = "/dashboard/static"
STATIC_ROUTE = "dashboard_static"
SCOPE = "logs"
MAX_DAYS = 90

CODEC = web.AppKey("dashboard_session_codec", SessionCodec)
TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)

routes = EndpointTable(tags=("Dashboard",))

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: with it browsers send `Origin: null` on our own form posts.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[CODEC] = SessionCodec(
        secret_key(settings), max_age_seconds=int(settings.dashboard_session_hours * 3600)
    )
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    routes.install(app)
    app.router.add_static(STATIC_PREFIX, HERE / "static", name=STATIC_ROUTE, append_version=True)
    add_public_prefix(app, STATIC_PREFIX + "/")


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            static=lambda name: (
                request.app.router["static"].url_for(filename=name)
                if "static" in request.app.router
                else f"{STATIC_PREFIX}/{name}"
            ),
            **context,
        )
    )
    return web.Response(
        text=html, status=status, content_type="text/html", headers=_SECURITY_HEADERS
    )


def _cookie_options(request: web.Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "secure": request.app[SETTINGS].dashboard_cookie_secure,
        "samesite": "Strict",
        "path": "/dashboard",
    }


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None  # an opaque origin is never ours
    return origin.rstrip("/") == f"{request.scheme}://{request.host}"


async def _signed_in(request: web.Request) -> tuple[DashboardSession, Principal] | None:
    session = request.app[CODEC].open(request.cookies.get(COOKIE))
    if session is None:
        return None
    result = await request.app[VERIFIER].verify(session.api_key)
    if result.status is not KeyStatus.VALID or result.principal is None:
        return None
    if not result.principal.may_use(SCOPE):
        return None
    return session, result.principal


def _login_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    token = new_csrf_token()
    response = _page(request, "login.html", status=status, csrf=token, error=error)
    response.set_cookie(CSRF_COOKIE, token, max_age=3600, **_cookie_options(request))
    return response


@routes.get("/dashboard/login", summary="Dashboard sign-in form", public=True, in_schema=False)
async def login_form(request: web.Request) -> web.StreamResponse:
    if await _signed_in(request) is not None:
        raise web.HTTPSeeOther("/dashboard")
    return _login_form(request)


@routes.post("/dashboard/login", summary="Dashboard sign-in", public=True, in_schema=False)
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = str(form.get("csrf", ""))
    if not _same_origin(request) or not expected or not hmac.compare_digest(expected, given):
        return _login_form(request, "The form expired; please sign in again.", status=403)
    api_key = str(form.get("api_key", "")).strip()
    result = await request.app[VERIFIER].verify(api_key)
    if result.status is not KeyStatus.VALID or result.principal is None:
        return _login_form(request, "That API key is not valid.", status=401)
    if not result.principal.may_use(SCOPE):
        return _login_form(request, "That API key may not read logs.", status=403)
    sealed = request.app[CODEC].seal(DashboardSession(api_key=api_key, csrf=new_csrf_token()))
    response = web.HTTPSeeOther("/dashboard")
    options = _cookie_options(request)
    response.set_cookie(COOKIE, sealed, max_age=request.app[CODEC].max_age_seconds, **options)
    response.del_cookie(CSRF_COOKIE, path=options["path"])
    raise response


@routes.post("/dashboard/logout", summary="Dashboard sign-out", public=True, in_schema=False)
async def logout(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    session = request.app[CODEC].open(request.cookies.get(COOKIE))
    if (
        session is not None
        and _same_origin(request)
        and hmac.compare_digest(session.csrf, str(form.get("csrf", "")))
    ):
        response = web.HTTPSeeOther("/dashboard/login")
        response.del_cookie(COOKIE, path="/dashboard")
        raise response
    raise web.HTTPSeeOther("/dashboard")


async def _panels(request: web.Request, caller: Principal) -> dict[str, Any]:
    try:
        days = min(MAX_DAYS, max(1, int(request.query.get("days", "14"))))
    except ValueError:
        days = 14
    readings = Readings()
    # Without Redis the usage panel says "not available" rather than failing the page.
    with contextlib.suppress(RedisError, OSError):
        await read_totals(request.app[REDIS], readings)
    gauges = {name: value for (name, labels), value in readings.gauges.items() if not labels}
    return await asyncio.to_thread(
        data.panels, request.app[DB], request.app[BROKER], caller.tenant_id, gauges, days
    )


@routes.get("/dashboard", summary="Ops dashboard", public=True, in_schema=False)
async def dashboard(request: web.Request) -> web.StreamResponse:
    signed_in = await _signed_in(request)
    if signed_in is None:
        raise web.HTTPSeeOther("/dashboard/login")
    session, caller = signed_in
    panels = await _panels(request, caller)
    return _page(
        request,
        "dashboard.html",
        panels=panels,
        csrf=session.csrf,
        refresh_seconds=request.app[SETTINGS].dashboard_refresh_seconds,
    )


@routes.get("/dashboard/data", summary="Dashboard data", public=True, in_schema=False)
async def dashboard_data(request: web.Request) -> web.StreamResponse:
    signed_in = await _signed_in(request)
    if signed_in is None:
        return web.json_response({"error": "Signed out"}, status=401, headers=_SECURITY_HEADERS)
    return web.json_response(await _panels(request, signed_in[1]), headers=_SECURITY_HEADERS)
