"""Binds a request id for the whole request: taken from `X-Request-ID` or generated."""

from __future__ import annotations

import re

from aiohttp import web
from structlog.contextvars import bind_contextvars, clear_contextvars

from bridge.web.errors import Handler
from config.logging import new_request_id

HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)
# Accept a caller's id only when it is a sane token, so logs cannot be injected into.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(HEADER, "")
    rid = incoming if _VALID.match(incoming) else new_request_id()
    request[REQUEST_ID] = rid
    # A keep-alive connection serves its requests in one task (one context): start each request
    # from a clean log context instead of paying for bound_contextvars' save-and-restore.
    clear_contextvars()
    bind_contextvars(request_id=rid)
    return await handler(request)


def add_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """Part of the `on_response_prepare` hook (`bridge.app`): streamed responses get it too."""
    rid = request.get(REQUEST_ID)
    if rid:
        response.headers[HEADER] = rid
