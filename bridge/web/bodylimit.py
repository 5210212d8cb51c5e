"""Request-body limit: 413 in the documented error shape, declared or chunked.

aiohttp's `client_max_size` only fires when a handler reads the body. This middleware answers
a declared `Content-Length` above the limit before any work (auth included), and reads
chunked bodies up front (aiohttp caches them for the handler) so those get the same 413.
"""

from __future__ import annotations

from aiohttp import web

from bridge.web.appkeys import SETTINGS
from bridge.web.errors import Handler


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = request.app[SETTINGS].max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
    if length is None and request.body_exists:
        await request.read()  # raises HTTPRequestEntityTooLarge past client_max_size
    return await handler(request)
