"""Polling backlog: 100,000 changed records in the sandbox drained by one poll.

    .venv/bin/python benchmarks/polling.py [--records 100000]

Reports wall time, Salesforce queries (the floor is records / 2,000 per page), ids accepted and
the worker batches they became. Seeded rows are written by the integration user, so the loop
guard is off for this run (it is exercised by the tests).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import redis_server, report
from bridge.db import Database
from bridge.db.migrate import upgrade
from bridge.salesforce.gateway import SalesforceGateway
from bridge.tenants.tables import Tenant
from bridge.triggers.dispatcher import Batch, Dispatcher
from bridge.triggers.polling import Poller
from config.settings import Settings
from sandbox.testing import start_sandbox_process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bridge-polling-"))
    url = f"sqlite:///{work / 'bridge.sqlite3'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        tenant = Tenant(name="bench")
        s.add(tenant)
        s.flush()
        tenant_id = tenant.id
    with redis_server(work) as redis_url, start_sandbox_process(
        work / "sf", api_daily_limit=10_000_000, callouts_enabled=False
    ) as sbx:
        settings = Settings(
            _env_file=None, redis_url=redis_url, database_url=url, sf_auth="sandbox",
            sf_instance_url=sbx.instance_url, sf_ca_bundle=sbx.ca_bundle,
            sf_client_id=sbx.client_id, sf_client_secret=sbx.client_secret,
        )  # fmt: skip
        gateway = SalesforceGateway.from_settings(settings)
        client = redis.Redis.from_url(redis_url)
        poller = Poller(db, client, gateway, integration_user_id=None, lookback=timedelta(0),
                        initial_lookback=timedelta(days=1))  # fmt: skip
        started = time.perf_counter()
        sbx.seed(leads=opts.records, seed=1)
        seeded = round(time.perf_counter() - started, 1)
        report("polling.seed", records=opts.records, seconds=seeded)
        before = dict(gateway.calls_by_operation)
        started = time.perf_counter()
        outcome = poller.poll(tenant_id, "Lead")
        seconds = time.perf_counter() - started
        queries = gateway.calls_by_operation.get("changed_since", 0) - before.get(
            "changed_since", 0
        )
        batches: list[Batch] = []
        dispatcher = Dispatcher(client, batches.append, consumer="bench", linger=0)
        dispatcher.ensure_group()
        while dispatcher.step(block_ms=100):
            pass
        dispatcher.flush(force=True)
        floor = math.ceil(opts.records / 2000)
        report(
            "polling.backlog",
            records=opts.records,
            accepted=outcome.accepted,
            error=outcome.error,
            seconds=round(seconds, 2),
            records_per_second=round(outcome.accepted / seconds),
            salesforce_queries=queries,
            query_floor=floor,
            queries_vs_floor=round(queries / floor, 3),
            worker_batches=len(batches),
            distinct_ids=len({i.id for b in batches for i in b.items}),
        )
        gateway.close()
        client.close()
    db.dispose()


if __name__ == "__main__":
    main()
