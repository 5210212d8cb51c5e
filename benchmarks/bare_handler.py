"""The baseline: an aiohttp handler that only parses the JSON body and answers."""

from __future__ import annotations

import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"success": True, "processed_count": len(body.get("ids", []))})


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/v1/triggers/salesforce", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
