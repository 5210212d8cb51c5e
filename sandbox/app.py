"""The sandbox's aiohttp application: routes, and the middleware every API call passes.

Every request first passes the edge (`sandbox.edge`: 414/431 past 16,384 bytes of URI and
headers). Then, for `/services/data/vXX.X/...` and `/services/Soap/...`: injected faults
(latency, errors) -> session check (401 INVALID_SESSION_ID) -> API budget (403
REQUEST_LIMIT_EXCEEDED) -> version check (404 NOT_FOUND; SOAP: UNSUPPORTED_API_VERSION) ->
handler. Every such response carries `Sforce-Limit-Info`. SalesforceError becomes a
Salesforce-shaped JSON body; aiohttp's own 404/405 (no route, wrong method) become NOT_FOUND /
METHOD_NOT_ALLOWED bodies like Salesforce's; anything unexpected becomes 500 UNKNOWN_EXCEPTION.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from sandbox import control, rest, soap
from sandbox.auth import bearer_token, token_endpoint
from sandbox.edge import edge_limits
from sandbox.errors import SalesforceError, not_found
from sandbox.faults import fault_error
from sandbox.state import SUPPORTED_VERSIONS, SandboxState

log = logging.getLogger("sandbox")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_API_PATH = re.compile(r"^/services/data/v\d+\.\d")
_SOAP_PATH = re.compile(r"^/services/Soap/")


def _error_response(error: SalesforceError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def _routing_error(error: web.HTTPException, method: str) -> SalesforceError:
    """aiohttp's routing errors (no such resource, wrong method) in Salesforce's words."""
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ",".join(sorted(error.allowed_methods))
        return SalesforceError(
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are {allowed}",
            status=405,
        )
    if error.status == 404:
        return not_found()
    code = error.reason.upper().replace(" ", "_").replace("-", "_")
    return SalesforceError(code, error.reason, status=error.status)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state: SandboxState = request.app["sandbox"]
    path = request.path
    is_api = bool(_API_PATH.match(path))
    is_soap = bool(_SOAP_PATH.match(path))
    if not (is_api or is_soap or path.startswith("/services/")):
        return await handler(request)
    try:
        response = await _guarded(request, handler, state, is_api=is_api, is_soap=is_soap)
    except SalesforceError as error:
        response = soap.fault_response(error) if is_soap else _error_response(error)
    except web.HTTPException as error:
        if error.status < 400 or not (is_api or is_soap or path.startswith("/services/data")):
            raise
        # Not a SOAP fault even on the SOAP path: the request never reached the SOAP endpoint.
        response = _error_response(_routing_error(error, request.method))
    except Exception:
        log.exception("unexpected error in %s %s", request.method, path)
        error = SalesforceError("UNKNOWN_EXCEPTION", "An unexpected error occurred.", status=500)
        response = soap.fault_response(error) if is_soap else _error_response(error)
    if is_api or is_soap or path.startswith("/services/data"):
        response.headers["Sforce-Limit-Info"] = state.usage.header()
    return response


async def _guarded(
    request: web.Request, handler: Handler, state: SandboxState, *, is_api: bool, is_soap: bool
) -> web.StreamResponse:
    fired = state.faults.fire(request.method, request.path)
    delay = sum(rule.latency_ms for rule in fired) / 1000
    if delay:
        await asyncio.sleep(delay)
    request["record_fault"] = None
    for rule in fired:
        if rule.kind == "latency":
            continue
        if rule.kind == "UNABLE_TO_LOCK_ROW_RECORDS":
            request["record_fault"] = rule
            continue
        if rule.kind == "EXPIRE_SESSION":
            token = bearer_token(request)
            if token is None and is_soap:
                token = await soap.session_id_from_request(request)
            if token:
                state.sessions.expire(token)
            if is_soap:
                break  # the SOAP handler finds the session expired
        raise fault_error(rule.kind, request.path)
    if is_api:
        request["session"] = state.sessions.lookup(bearer_token(request))
        state.usage.consume()
    version = request.match_info.get("version")
    if version is not None and version not in SUPPORTED_VERSIONS:
        if is_soap:
            raise SalesforceError(
                "UNSUPPORTED_API_VERSION", "Invalid Api version specified on URL", status=500
            )
        raise not_found()
    return await handler(request)


async def _callouts_ctx(app: web.Application) -> AsyncIterator[None]:
    state: SandboxState = app["sandbox"]
    await state.callouts.start()
    yield
    await state.callouts.stop()
    state.db.close()


def create_app(state: SandboxState) -> web.Application:
    app = web.Application(
        middlewares=[edge_limits, api_middleware], client_max_size=64 * 1024 * 1024
    )
    app["sandbox"] = state
    app.router.add_post("/services/oauth2/token", token_endpoint)
    rest.add_routes(app)
    soap.add_routes(app)
    control.add_routes(app)
    app.cleanup_ctx.append(_callouts_ctx)
    return app
