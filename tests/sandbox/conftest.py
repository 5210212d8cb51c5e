"""One real sandbox process for the whole tests/sandbox session, plus a callout receiver."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from simple_salesforce import Salesforce

from sandbox.testing import SandboxProcess, start_sandbox_process

CALLOUT_SECRET = "whsec_" + "c2FuZGJveC10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5YWI="
CALLOUT_API_KEY = "brk_test_key"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class CalloutReceiver:
    """An aiohttp server on a background thread that records what the sandbox POSTs."""

    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_next > 0:
            self.fail_next -= 1
            self.received.append(Received({**request.headers, "x-answered": "500"}, body))
            return web.Response(status=500, text="receiver down")
        self.received.append(Received(dict(request.headers), body))
        return web.json_response({"accepted": True}, status=202)

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/hook", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}/hook"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0, count: int = 1
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            hits = [r for r in list(self.received) if predicate(r)]
            if len(hits) >= count or time.monotonic() > deadline:
                return hits
            time.sleep(0.02)


@pytest.fixture(scope="session")
def receiver() -> Iterator[CalloutReceiver]:
    server = CalloutReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, receiver: CalloutReceiver
) -> Iterator[SandboxProcess]:
    data_dir: Path = tmp_path_factory.mktemp("sandbox")
    process = start_sandbox_process(
        data_dir, callout_url=receiver.url, callout_secret=CALLOUT_SECRET,
        callout_api_key=CALLOUT_API_KEY, random_seed=7,
    )  # fmt: skip
    process.set_callouts(backoff_seconds=0.05, max_backoff_seconds=0.2)
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        sandbox: SandboxProcess = request.getfixturevalue("sandbox")
        sandbox.clear_faults()


@pytest.fixture(scope="session")
def sf(sandbox: SandboxProcess) -> Salesforce:
    return sandbox.salesforce()


@pytest.fixture
def api(sandbox: SandboxProcess) -> Callable[..., Any]:
    """Raw HTTPS calls to `/services/data/v60.0/<path>` with a valid token (for status codes)."""
    session = sandbox.session()
    token = sandbox.token()

    def call(method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {kwargs.pop('token', token)}"}
        headers.update(kwargs.pop("headers", {}))
        url = (
            path
            if path.startswith("http")
            else f"{sandbox.instance_url}/services/data/v60.0/{path}"
        )
        return session.request(method, url, headers=headers, **kwargs)

    return call
