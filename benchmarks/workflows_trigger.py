"""Workflow triggers accepted per second in a burst.

    .venv/bin/python benchmarks/workflows_trigger.py [--requests 5000] [--clients 200]

A `bridge web` process on a private embedded Redis and SQLite. Every request triggers
`lead_intake` (enrich, match, push_salesforce, assign: 4 credits) for a distinct record: auth,
rate limit, the coalesced credit debit and the coalesced Redis accept; no worker runs, so this
measures what the door takes in a burst. The baseline, in the same run with the same clients,
is GET /healthz (`vs_healthz`). Afterwards the stream must hold exactly one entry per 200.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import (
    bridge,
    bridge_env,
    free_port,
    process,
    redis_server,
    report,
    wait_http,
)
from benchmarks.forms_submit import measure
from bridge.workflows.jobs import STREAM


async def bench(base: str, key: str, total: int, clients: int) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=clients + 10)
    accepted = 0
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as http:
        counter = iter(range(10**9))

        async def health() -> int:
            async with http.get("/healthz") as resp:
                await resp.read()
                return resp.status

        async def trigger() -> int:
            n = next(counter)
            body = {"record_data": {"LastName": f"Person{n}", "Email": f"p{n}@x{n % 50}.example",
                                    "Company": "Bench"}, "source_system": "cdp"}  # fmt: skip
            async with http.post("/v1/workflows/lead_intake/trigger", json=body) as resp:
                data = await resp.json()
                nonlocal accepted
                accepted += resp.status == 200 and data.get("status") == "queued"
                return resp.status

        await measure(clients, [health for _ in range(200)])  # warm-up
        baseline = await measure(clients, [health for _ in range(total)])
        burst = await measure(clients, [trigger for _ in range(total)])
        report("workflows_trigger_healthz_baseline", **baseline)
        report("workflows_trigger_burst", **burst, accepted_per_s=burst["per_s"],
               vs_healthz=round(burst["per_s"] / max(baseline["per_s"], 0.01), 3))  # fmt: skip
    return accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with redis_server(work) as redis_url:
            env = bridge_env(work, redis_url, BRIDGE_RATE_LIMIT_WORKFLOWS_PER_MIN="100000000")
            bridge("migrate", env=env)
            key = bridge("keys", "create", "--tenant", "bench", env=env).strip().splitlines()[-1]
            bridge("credits", "grant", "--tenant", "bench", "100000000", env=env)
            port = free_port()
            web = [sys.executable, "-m", "bridge", "web", "--port", str(port)]
            with process(web, env, work / "web.log"):
                base = f"http://127.0.0.1:{port}"
                wait_http(f"{base}/healthz")
                accepted = asyncio.run(bench(base, key, args.requests, args.clients))
            client = redis.Redis.from_url(redis_url)
            in_stream = client.xlen(STREAM)
            client.close()
            report("workflows_trigger_check", accepted=accepted, in_stream=in_stream,
                   consistent=accepted == in_stream)  # fmt: skip


if __name__ == "__main__":
    main()
