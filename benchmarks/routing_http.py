"""Assignments per second through POST /v1/routing/assign (the web process, the sandbox).

    .venv/bin/python benchmarks/routing_http.py [--assigns 1000] [--single 200]

A `bridge web` process on a private embedded Redis and SQLite, pointed at a sandbox process
over HTTPS. Each new assignment is: auth, rate limit, credit debit, read the record's owner
(1 SOQL), the atomic pick, write OwnerId (1 collections call), the route log. Measured with
one client in a loop and with 64 concurrent clients (aiohttp, keep-alive), plus 64 clients
replaying assignments already made (`cached`: no Salesforce write). The baseline, in the same
run with the same clients, is GET /healthz; `vs_healthz` is the ratio. Every run checks the
sequence numbers are distinct and that Salesforce holds the owner each answer names.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import requests

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
from bridge.salesforce.gateway import SalesforceGateway
from config.settings import Settings
from sandbox.testing import start_sandbox_process


async def measure(clients: int, jobs: list[Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    queue = list(reversed(jobs))
    latencies: list[float] = []
    results: list[Any] = []

    async def worker() -> None:
        while queue:
            job = queue.pop()
            started = time.perf_counter()
            results.append(await job())
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "per_s": round(len(jobs) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "results": results,
    }


async def bench(base: str, key: str, leads: list[str], single: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as http:

        async def health() -> int:
            async with http.get("/healthz") as resp:
                await resp.read()
                return resp.status

        def assign(lead: str) -> Callable[[], Awaitable[dict[str, Any]]]:
            async def call() -> dict[str, Any]:
                body = {"object": "lead", "sf_id": lead, "pool": "bench"}
                async with http.post("/v1/routing/assign", json=body) as resp:
                    data = await resp.json()
                    assert resp.status == 200, data
                    return {"lead": lead, **data}

            return call

        out: dict[str, Any] = {}
        out["healthz_1"] = await measure(1, [health] * single)
        out["assign_1"] = await measure(1, [assign(i) for i in leads[:single]])
        out["healthz_64"] = await measure(64, [health] * (len(leads) - single))
        out["assign_64"] = await measure(64, [assign(i) for i in leads[single:]])
        out["replay_64"] = await measure(64, [assign(i) for i in leads[single:]])
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assigns", type=int, default=1000, help="new assignments in total")
    parser.add_argument("--single", type=int, default=200, help="of which one client makes")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bridge-routing-http-"))
    with (
        redis_server(work) as redis_url,
        start_sandbox_process(
            work / "sf", api_daily_limit=10_000_000, callouts_enabled=False
        ) as sbx,
    ):
        sf_env = {
            "BRIDGE_SF_AUTH": "sandbox",
            "BRIDGE_SF_INSTANCE_URL": sbx.instance_url,
            "BRIDGE_SF_CA_BUNDLE": str(sbx.ca_bundle),
            "BRIDGE_SF_CLIENT_ID": sbx.client_id,
            "BRIDGE_SF_CLIENT_SECRET": sbx.client_secret,
        }
        env = bridge_env(
            work, redis_url, BRIDGE_RATE_LIMIT_SYNC_PER_MIN="100000000",
            BRIDGE_ROUTING_POOLS_FILE=str(work / "no-pools.yaml"), **sf_env,
        )  # fmt: skip
        bridge("migrate", env=env)
        key = bridge("keys", "create", "--tenant", "bench", env=env).strip().splitlines()[-1]
        bridge("credits", "grant", "--tenant", "bench", "100000000", env=env)
        sbx.seed(users=12, seed=4)
        users = sbx.salesforce().query_all("SELECT Id FROM User WHERE IsActive = true")
        members = [u["Id"] for u in users["records"] if u["Id"] != sbx.integration_user_id][:5]
        sf_settings = {k.removeprefix("BRIDGE_").lower(): v for k, v in sf_env.items()}
        gateway = SalesforceGateway.from_settings(Settings(_env_file=None, **sf_settings))
        created = gateway.create(
            "Lead", [{"LastName": f"L{i}", "Company": "Co"} for i in range(opts.assigns)]
        )
        leads = [r.id for r in created]
        port = free_port()
        web = [sys.executable, "-m", "bridge", "web", "--port", str(port)]
        with process(web, env, work / "web.log"):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            pool = {"name": "bench", "members": [
                {"user_id": m, "weight": 1 + i % 2} for i, m in enumerate(members)]}  # fmt: skip
            resp = requests.post(
                f"{base}/v1/routing/pools", json=pool,
                headers={"Authorization": f"Bearer {key}"}, timeout=10,
            )  # fmt: skip
            resp.raise_for_status()
            out = asyncio.run(bench(base, key, leads, opts.single))
        new = out["assign_1"]["results"] + out["assign_64"]["results"]
        assert sorted(r["sequence"] for r in new) == list(range(1, len(leads) + 1))
        assert all(r["cached"] for r in out["replay_64"]["results"])
        owners = {r["Id"]: r["OwnerId"] for r in gateway.fetch("Lead", leads, ["Id", "OwnerId"])}
        assert all(owners[r["lead"]] == r["assigned_to"] for r in new)
        gateway.close()
        for mode, clients, measured, baseline in (
            ("new_assignments", 1, out["assign_1"], out["healthz_1"]),
            ("new_assignments", 64, out["assign_64"], out["healthz_64"]),
            ("replays_cached", 64, out["replay_64"], out["healthz_64"]),
        ):
            report(
                "routing_http",
                mode=mode,
                clients=clients,
                requests=len(measured["results"]),
                assigns_per_s=measured["per_s"],
                p50_ms=measured["p50_ms"],
                p95_ms=measured["p95_ms"],
                healthz_per_s=baseline["per_s"],
                vs_healthz=round(measured["per_s"] / baseline["per_s"], 4),
            )


if __name__ == "__main__":
    main()
