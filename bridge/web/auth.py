"""Bearer API-key authentication for every route not declared public.

The key is checked by `KeyVerifier` (an in-process cache in front of one primary-key lookup):
a busy key costs no SQL round trip per request, and a revoked key stops working within the
verifier's TTL (5 s by default) in every process. Handlers read the caller with
`principal(request)`; `tenant_id` and `key_id` are bound to the log context for the request.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from structlog.contextvars import bind_contextvars

from bridge.tenants.models import Principal
from bridge.tenants.service import KeyStatus, KeyVerifier
from bridge.web.endpoints import endpoint_of, is_public
from bridge.web.errors import ApiError, Handler

log = structlog.get_logger(__name__)

PRINCIPAL = web.RequestKey("principal", Principal)
VERIFIER = web.AppKey("key_verifier", KeyVerifier)

_CHALLENGE = 'Bearer realm="bridge"'
_INVALID = 'Bearer realm="bridge", error="invalid_token"'


def principal(request: web.Request) -> Principal:
    """The authenticated caller; a 401 if the route was (wrongly) declared public."""
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise ApiError(
            401, "Authentication required", headers={"WWW-Authenticate": _CHALLENGE}
        ) from None


def _unauthorized(error: str, challenge: str = _INVALID) -> ApiError:
    return ApiError(401, error, headers={"WWW-Authenticate": challenge})


def _bearer_token(request: web.Request) -> tuple[str, bool]:
    """The presented key, and whether it came from the `?key=` query parameter."""
    header = request.headers.get("Authorization")
    if not header:
        endpoint = endpoint_of(request)
        if endpoint is not None and endpoint.key_in_query and request.query.get("key"):
            return request.query["key"].strip(), True
        raise _unauthorized("Missing API key", _CHALLENGE)
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _unauthorized("Malformed Authorization header: expected 'Bearer <api key>'")
    return token, False


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Unknown paths and wrong methods fall through to their 404/405.
    if request.match_info.http_exception is not None or is_public(request):
        return await handler(request)
    token, in_query = _bearer_token(request)
    result = await request.app[VERIFIER].verify(token)
    if result.status is not KeyStatus.VALID or result.principal is None:
        log.info("api key rejected", reason=result.status.value, key_id=result.key_id)
        message = {
            KeyStatus.MALFORMED: "Malformed API key",
            KeyStatus.REVOKED: "API key revoked",
        }.get(result.status, "Invalid API key")
        raise _unauthorized(message)
    caller = result.principal
    request[PRINCIPAL] = caller
    # The request's log context was started clean by the request-id middleware.
    bind_contextvars(tenant_id=caller.tenant_id, key_id=caller.key_id)
    endpoint = endpoint_of(request)
    scope = endpoint.required_scope if endpoint else None
    # A URL ends up in the sender's setup pages and in proxy logs: only a key that can do
    # nothing but this endpoint's area may travel there (an unscoped key may do everything).
    if in_query and (scope is None or tuple(caller.scopes) != (scope,)):
        raise ApiError(
            403,
            f"An API key passed as ?key= must be limited to the '{scope}' scope",
            details={"required_scope": scope},
        )
    if scope is not None and not caller.may_use(scope):
        raise ApiError(403, "API key not allowed here", details={"required_scope": scope})
    origin = request.headers.get("Origin")
    # Browsers always send Origin cross-site; server-to-server callers need not.
    if origin and caller.allowed_origins and origin.rstrip("/") not in caller.allowed_origins:
        raise ApiError(403, "Origin not allowed for this API key", details={"origin": origin})
    return await handler(request)
