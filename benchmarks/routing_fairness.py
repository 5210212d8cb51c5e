"""Fairness of the round robin: 10,000 assignments per pool, members going out of office.

    .venv/bin/python benchmarks/routing_fairness.py [--picks 10000]

Runs the real pick (RoutingService + the Lua script on a private embedded Redis) with a
simulated clock (one minute per assignment) over pools weighted 5/1/1 and 3/2. Members go
out of office and come back at set points (out-of-office periods in the pool definition).
The weighted share is counted pick by pick over whoever was available at that pick
(share_i += w_i / sum of available weights); deviation = assignments - share. Reported: the
largest |deviation| of any member at any point, at the end, and for the same pool with
nobody away (the baseline: smooth weighted round robin keeps that below one assignment).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

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

START = datetime(2026, 1, 5, tzinfo=UTC)
# pool -> (weights, {member index: [(first pick away, first pick back), ...]})
SCENARIOS: dict[str, tuple[list[int], dict[int, list[tuple[int, int]]]]] = {
    "5/1/1": ([5, 1, 1], {1: [(2000, 3500), (8000, 8500)], 0: [(5000, 6000)], 2: [(7000, 9000)]}),
    "3/2": ([3, 2], {1: [(1000, 2500)], 0: [(6000, 6500), (9000, 9400)]}),
}


def at(pick: int) -> datetime:
    return START + timedelta(minutes=pick)


def run(service: RoutingService, clock: list[datetime], tenant: int, name: str,
        weights: list[int], away: dict[int, list[tuple[int, int]]], picks: int,
        users: list[str]) -> dict[str, float]:  # fmt: skip
    counts = [0] * len(weights)
    share = [0.0] * len(weights)
    worst = 0.0
    for n in range(picks):
        clock[0] = at(n) + timedelta(seconds=30)
        present = [
            i for i in range(len(weights))
            if not any(a <= n < b for a, b in away.get(i, ()))
        ]  # fmt: skip
        total = sum(weights[i] for i in present)
        for i in present:
            share[i] += weights[i] / total
        winner = users.index(service.pick(tenant, name, f"r{n}").assigned_to)
        assert winner in present, (name, n, winner)
        counts[winner] += 1
        worst = max(worst, *(abs(counts[i] - share[i]) for i in range(len(weights))))
    final = max(abs(counts[i] - share[i]) for i in range(len(weights)))
    return {"max_deviation": round(worst, 4), "final_deviation": round(final, 4),
            "counts": counts, "shares": [round(s, 2) for s in share]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--picks", type=int, default=10_000)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bridge-routing-fairness-"))
    url = f"sqlite:///{work / 'bridge.sqlite3'}"
    upgrade(url)
    db = Database(url)
    clock = [START]
    with db.session() as session:
        tenant = ensure_tenant(session, "bench").id
    users: dict[str, list[str]] = {}
    with db.session() as session:
        for s, (label, (weights, away)) in enumerate(SCENARIOS.items()):
            users[label] = [to_18(f"005{s:03d}000{i:06d}") for i in range(len(weights))]
            for suffix, periods in (("away", away), ("static", {})):
                members = [
                    {"user_id": users[label][i], "weight": w, "out_of_office": [
                        {"start": at(a).isoformat(), "end": at(b).isoformat()}
                        for a, b in periods.get(i, ())]}
                    for i, w in enumerate(weights)
                ]  # fmt: skip
                name = f"w{label.replace('/', '-')}-{suffix}"
                pools.create(session, tenant, PoolSpec(name=name, members=members))
    all_users = [u for group in users.values() for u in group]
    with redis_server(work) as redis_url:
        client = redis.Redis.from_url(redis_url)
        service = RoutingService(
            db, client, pools=PoolCache(db, ttl=3600),
            active_users=ActiveUsers(lambda: all_users), clock=lambda: clock[0],
        )  # fmt: skip
        for label, (weights, away) in SCENARIOS.items():
            name = label.replace("/", "-")
            moving = run(service, clock, tenant, f"w{name}-away", weights, away, opts.picks,
                         users[label])  # fmt: skip
            static = run(service, clock, tenant, f"w{name}-static", weights, {}, opts.picks,
                         users[label])  # fmt: skip
            report(
                "routing_fairness",
                weights=label,
                picks=opts.picks,
                away_periods={str(k): v for k, v in away.items()},
                **moving,
                baseline_no_absence_max_deviation=static["max_deviation"],
                baseline_counts=static["counts"],
            )
        client.close()
    db.dispose()


if __name__ == "__main__":
    main()
