"""One structured log line and the HTTP metrics per request: method, path, status, duration.

One middleware does both, so the request is timed once and pays for one layer, not two.

Deliberately no headers, query values or bodies: those carry keys and personal data. The
redaction processor in `config.logging` is the second line of defence, not the first.
"""

from __future__ import annotations

import logging
import time

import structlog
from aiohttp import web

from bridge.metrics import counters
from bridge.web.auth import PRINCIPAL
from bridge.web.errors import Handler

log = structlog.get_logger("bridge.access")
_std = logging.getLogger("bridge.access")  # its level check is cached by the logging module


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        counters.http_request(request.method, route_of(request), status, elapsed)
        if _std.isEnabledFor(logging.INFO):
            caller = request.get(PRINCIPAL)
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                tenant_id=caller.tenant_id if caller else None,
                key_id=caller.key_id if caller else None,
            )


def route_of(request: web.Request) -> str:
    """The route template (`/v1/runs/{run_id}`), never the raw path: bounded label values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


UNMATCHED = "(unmatched)"
