"""Trigger ingest CPU per request, measured in-process: a low-noise companion to ingest.py.

    .venv/bin/python benchmarks/ingest_cpu.py [--requests 6000] [--rounds 6]

wrk's requests/s on a shared 2-core machine swing by a third between runs. This feeds the same
signed callouts straight into aiohttp's HTTP protocol (64 connections over in-memory
transports, so no sockets and no load generator competing for the CPU) and reports the
process CPU per request, the minimum over several rounds, for three apps:

- `bare`: the baseline handler of benchmarks/bare_handler.py (parse JSON, answer);
- `floor`: only what the issue requires of a callout, with the bridge's own parts and no
  framework around them: signature check, validation, the org check, paying and the
  coalesced Redis intake (`TriggerService.accept`), a JSON answer; no auth, request id,
  rate limit, metrics, credits headers or documented response model;
- `bridge`: the real application (`bridge.app.create_app`).

Redis is real (a private embedded server), so the intake's round trips are paid. Kernel time
for sockets is not: ingest.py's CPU per request is this plus roughly 20 µs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import bridge_env, redis_server, report
from benchmarks.bare_handler import handle as bare_handle
from benchmarks.ingest import bench_tenant, signed_callouts

CONNECTIONS = 64
WARM_UP = 2000


class _Transport(asyncio.Transport):
    """Hands what aiohttp writes to its connection; never blocks, never closes a socket."""

    def __init__(self, connection: _Connection) -> None:
        super().__init__()
        self._connection = connection
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._connection.received(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self._connection.received(b"".join(chunks))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True


class _Load:
    """`total` requests over CONNECTIONS keep-alive connections, one in flight on each."""

    def __init__(self, requests: list[bytes], total: int) -> None:
        self.requests, self.total = requests, total
        self.sent = self.answered = self.failed = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _Connection:
    def __init__(self, server: web.Server, load: _Load) -> None:
        self.load = load
        self.buffer = b""
        self.protocol = server()
        self.protocol.connection_made(_Transport(self))

    def send(self) -> None:
        load = self.load
        if load.sent >= load.total:
            if load.answered >= load.total and not load.done.done():
                load.done.set_result(None)
            return
        raw = load.requests[load.sent % len(load.requests)]
        load.sent += 1
        self.protocol.data_received(raw)

    def received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) < length:
                return
            if not head.startswith(b"HTTP/1.1 200"):
                self.load.failed += 1
            self.buffer = rest[length:]
            self.load.answered += 1
            asyncio.get_running_loop().call_soon(self.send)


async def _cpu_per_request(server: web.Server, requests: list[bytes], total: int) -> float:
    load = _Load(requests, total)
    connections = [_Connection(server, load) for _ in range(CONNECTIONS)]
    started = time.process_time()
    for connection in connections:
        connection.send()
    await load.done
    spent = time.process_time() - started
    if load.failed:
        raise RuntimeError(f"{load.failed} of {total} requests were not answered 200")
    return spent / total * 1e6


def _floor_app(real: web.Application, tenant_id: int) -> web.Application:
    """The required work alone, on the bridge's trigger service (state shared with `real`)."""
    from bridge.triggers.api import TRIGGERS
    from bridge.triggers.models import TriggerRequest

    service = real[TRIGGERS]

    async def floor(request: web.Request) -> web.Response:
        raw = await request.read()
        config = await service.config.get(tenant_id)
        webhook_id = config.verify_sender(raw, request.headers)
        body = TriggerRequest.model_validate_json(raw)
        config.check_org(body.org_id)
        acceptance = await service.accept(
            tenant_id, sobject=body.object, ids=tuple(body.ids), event=body.event,
            org_id=body.org_id, source="webhook", request_id="bench", dedupe_key=webhook_id,
        )  # fmt: skip
        return web.json_response(
            {
                "success": True,
                "processed_count": acceptance.ids,
                "cached": acceptance.accepted.duplicate,
            }
        )

    app = web.Application()
    app.router.add_post("/v1/triggers/salesforce", floor)
    return app


async def _measure(opts: argparse.Namespace, requests: list[bytes], key: str) -> None:
    from bridge.app import create_app
    from bridge.web.auth import VERIFIER

    bare = web.Application()
    bare.router.add_post("/v1/triggers/salesforce", bare_handle)
    real = create_app()
    runners = {"bridge": web.AppRunner(real, access_log=None)}
    await runners["bridge"].setup()  # starts the bridge's resources (Redis, SQL, intake)
    caller = (await real[VERIFIER].verify(key)).principal
    assert caller is not None
    runners["bare"] = web.AppRunner(bare, access_log=None)
    runners["floor"] = web.AppRunner(_floor_app(real, caller.tenant_id), access_log=None)
    await runners["bare"].setup()
    await runners["floor"].setup()
    # Floor and bridge each get callouts of their own, never repeated: a duplicate is
    # answered from the dedupe key, which is cheaper than accepting.
    half = len(requests) // 2
    own = {"bare": requests, "floor": requests[:half], "bridge": requests[half:]}
    sent = dict.fromkeys(own, 0)

    async def run(name: str, count: int) -> float:
        server = runners[name].server
        batch = own[name][sent[name] : sent[name] + count]
        sent[name] += count
        return await _cpu_per_request(server, batch, count)  # type: ignore[arg-type]

    results: dict[str, list[float]] = {name: [] for name in own}
    for name in results:  # warm-up: caches, leases, connection pools, lazy imports
        await run(name, WARM_UP)
    gc.collect()
    gc.freeze()
    for _ in range(opts.rounds):  # interleaved, so a noisy spell hits every app alike
        for name in results:
            results[name].append(await run(name, opts.requests))
    best = {name: min(values) for name, values in results.items()}
    for name, values in results.items():
        report(
            f"ingest_cpu.{name}",
            cpu_us_per_request=round(best[name], 1),
            rounds=[round(v, 1) for v in values],
        )
    report(
        "ingest_cpu.ratio",
        bridge_vs_bare=round(best["bare"] / best["bridge"], 3),
        floor_vs_bare=round(best["bare"] / best["floor"], 3),
        bridge_overhead_over_floor_us=round(best["bridge"] - best["floor"], 1),
    )
    for runner in runners.values():
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=6)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bridge-ingest-cpu-"))
    with redis_server(work) as redis_url:
        env = bridge_env(work, redis_url, BRIDGE_RATE_LIMIT_TRIGGERS_PER_MIN="100000000")
        key, secret = bench_tenant(env)
        count = 2 * (WARM_UP + opts.rounds * opts.requests)
        requests = [raw.encode() for raw in signed_callouts(key, secret, count)]
        os.environ.update(env)
        asyncio.run(_measure(opts, requests, key))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
