"""Serving a local stand-in HTTP server (for a paid third-party API) from a background thread.

Subclasses add their routes; the stand-in object gets a free port and is returned by `with`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Generic, TypeVar

from aiohttp import web

from bridge.embedded_redis import free_port

S = TypeVar("S")


class AppInThread(Generic[S]):
    def __init__(self, server: S) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def __enter__(self) -> S:
        app = web.Application()
        self.add_routes(app)
        server: Any = self.server
        server.port = free_port()
        self.thread.start()

        async def start() -> None:
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", server.port).start()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
