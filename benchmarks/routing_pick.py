"""Round-robin picks per second through the Redis pick alone (no Salesforce, no HTTP).

    .venv/bin/python benchmarks/routing_pick.py [--picks 20000] [--members 5]

Each pick is the full domain path (`RoutingService.pick` / `apick` / `pick_many`:
availability, cap periods, the one Lua script) on a private embedded Redis, for a pool of
weighted members with caps and working hours. Modes: one thread in a loop; 64 concurrent
threads (one shared connection pool; their picks coalesce into shared round trips); the
asyncio path (`apick`, coalesced per loop turn) with 1 and 64 concurrent callers; and the
pipeline's batches of 200 in one round trip. The baseline, measured in the same run with the
same clients, is Redis `PING`; `vs_ping` is picks/s divided by pings/s. Every run checks that
the sequence numbers are exactly 1..N (no slot taken twice). Goal: >= 5,000 picks/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import redis_server, report
from bridge.db import Database
from bridge.db.migrate import upgrade
from bridge.routing import pools
from bridge.routing.availability import ActiveUsers
from bridge.routing.models import PoolSpec
from bridge.routing.pools import PoolCache
from bridge.routing.service import RoutingService
from bridge.salesforce.ids import to_18
from bridge.tenants.service import ensure_tenant

GOAL = 5_000
WEEK = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def rate(count: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def concurrently(clients: int, count: int, job: Callable[[int], object]) -> Callable[[], None]:
    def run() -> None:
        with ThreadPoolExecutor(clients) as threads:
            list(threads.map(job, range(count), chunksize=max(1, count // (clients * 8))))

    return run


async def async_rate(clients: int, count: int, job: Callable[[int], object]) -> float:
    """`count` calls of async `job` by `clients` concurrent tasks on one loop, per second."""
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await job(i)  # type: ignore[misc]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return count / (time.perf_counter() - started)


MODES = ("single", "concurrent", "async_1", "async_64", "batched")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--picks", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=5)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bridge-routing-pick-"))
    url = f"sqlite:///{work / 'bridge.sqlite3'}"
    upgrade(url)
    db = Database(url)
    members = [to_18(f"005000000{n:06d}") for n in range(opts.members)]
    with db.session() as session:
        tenant = ensure_tenant(session, "bench").id
        for mode in MODES:
            spec = PoolSpec.model_validate({
                "name": mode,
                "members": [
                    {"user_id": m, "weight": 1 + i % 3, "caps": {"month": 10_000_000},
                     "working_hours": WEEK}
                    for i, m in enumerate(members)
                ],
            })  # fmt: skip
            pools.create(session, tenant, spec)
    with redis_server(work) as redis_url:
        client = redis.Redis.from_url(redis_url, max_connections=128)
        aclient = redis.asyncio.Redis.from_url(redis_url, max_connections=128)
        service = RoutingService(
            db, client, pools=PoolCache(db, ttl=3600), active_users=ActiveUsers(lambda: members),
            aclient=aclient,
        )  # fmt: skip
        n = opts.picks
        for mode in MODES:
            service.pick(tenant, mode, "warm-up")  # rebuild (empty) + pool cache

        ping_single = rate(n, lambda: [client.ping() for _ in range(n)])
        single = rate(n, lambda: [service.pick(tenant, "single", f"r{i}") for i in range(n)])
        ping_64 = rate(n, concurrently(64, n, lambda i: client.ping()))
        conc = rate(n, concurrently(64, n, lambda i: service.pick(tenant, "concurrent", f"r{i}")))

        def batched() -> None:
            for start in range(0, n, 200):
                ids = [f"r{i}" for i in range(start, min(n, start + 200))]
                service.pick_many(tenant, "batched", ids)

        def ping_batches() -> None:
            for _ in range(0, n, 200):
                pipe = client.pipeline(transaction=False)
                for _ in range(200):
                    pipe.ping()
                pipe.execute()

        ping_batched = rate(n, ping_batches)
        batch = rate(n, batched)

        async def async_modes() -> tuple[float, float, float, float]:
            await aclient.ping()
            ping_a1 = await async_rate(1, n, lambda i: aclient.ping())
            a1 = await async_rate(1, n, lambda i: service.apick(tenant, "async_1", f"r{i}"))
            ping_a64 = await async_rate(64, n, lambda i: aclient.ping())
            a64 = await async_rate(64, n, lambda i: service.apick(tenant, "async_64", f"r{i}"))
            await aclient.aclose()
            return ping_a1, a1, ping_a64, a64

        ping_a1, async_1, ping_a64, async_64 = asyncio.run(async_modes())
        for mode in MODES:
            seq = service.rotation.sequence(tenant, mode)
            assert seq == n + 1, (mode, seq)  # every pick took its own slot (+ the warm-up)
        for mode, picks, ping, clients in (
            ("single_client", single, ping_single, 1),
            ("64_clients", conc, ping_64, 64),
            ("async_1_caller", async_1, ping_a1, 1),
            ("async_64_callers", async_64, ping_a64, 64),
            ("batches_of_200", batch, ping_batched, 1),
        ):
            report(
                "routing_pick",
                mode=mode,
                clients=clients,
                picks=n,
                members=opts.members,
                picks_per_s=round(picks),
                ping_per_s=round(ping),
                vs_ping=round(picks / ping, 3),
                goal_per_s=GOAL,
                meets_goal=picks >= GOAL,
            )
        client.close()
    db.dispose()


if __name__ == "__main__":
    main()
