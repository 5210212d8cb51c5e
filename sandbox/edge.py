"""What Salesforce's front door refuses before the API sees a request: oversized URIs and headers.

Salesforce allows 16,384 bytes of URI and headers together per REST call; past that it answers
414 URI Too Long (the URI alone) or 431 Request Header Fields Too Large, uncounted and without
`Sforce-Limit-Info`. A long `query?q=` (a big `IN` list) is the usual way to get there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

MAX_URI_AND_HEADERS = 16_384
# aiohttp's parser must let such requests through for this middleware to judge them (its
# default line limit is 8,190 bytes); anything past these it refuses itself with a 400.
MAX_REQUEST_LINE = 2 * MAX_URI_AND_HEADERS
MAX_HEADER_FIELD = MAX_URI_AND_HEADERS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_size(request: web.Request) -> tuple[int, int]:
    """(URI bytes, URI + header bytes) as they came over the wire."""
    uri = len(request.raw_path.encode("utf-8", "surrogateescape"))
    headers = sum(len(name) + len(value) + 4 for name, value in request.raw_headers)  # ": ", CRLF
    return uri, uri + headers


@web.middleware
async def edge_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    uri, total = request_size(request)
    if uri > MAX_URI_AND_HEADERS:
        raise web.HTTPRequestURITooLong()
    if total > MAX_URI_AND_HEADERS:
        raise web.HTTPRequestHeaderFieldsTooLarge()
    return await handler(request)
