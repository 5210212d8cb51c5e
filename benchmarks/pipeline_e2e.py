"""The record pipeline end to end on real processes: Salesforce API economy, single-insert
latency and bulk throughput.

    .venv/bin/python benchmarks/pipeline_e2e.py [--economy 1000] [--singles 40] [--bulk 10000]

Starts a private Redis, the sandbox (Apex callouts pointed at the web process), `bridge web`,
`bridge dispatcher` and `bridge worker`; registers a tenant with the CLI (`keys create`,
`orgs add`, `credits grant`). Then:

- economy: N new leads written by a rep (sObject Collections, 200 per call) flow trigger ->
  pipeline -> write-back; Salesforce calls made by the bridge per 1,000 records (sandbox usage
  minus the rep's own inserts). Baseline in the same run: the same pipeline fed one record per
  batch (one fetch + one write per record), on another N leads.
- latency: single inserts, time from the insert returning to the written-back record being
  readable (Enrichment_Status__c = Enriched); p50/p95.
- bulk: N leads inserted in collections of 200; records/s until every one is processed.
One JSON line per figure.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import structlog
from simple_salesforce import format_soql

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
from bridge.db import Database
from bridge.pipeline_config import StepDeps, build_pipeline, load
from bridge.salesforce.gateway import SalesforceGateway
from bridge.triggers.dispatcher import Batch, BatchItem
from config.settings import Settings
from sandbox.testing import start_sandbox_process


def lead(n: int, tag: str) -> dict[str, Any]:
    return {
        "attributes": {"type": "Lead"},
        "FirstName": f"F{n}",
        "LastName": f"{tag}{n}",
        "Company": f"Company {n} GmbH",
        "Email": f"f{n}.{tag.lower()}@Company{n}.example.com",
        "Phone": f"(415) 555-{n % 10000:04d}",
        "Title": "VP Sales",
    }


def insert(rep: Any, count: int, tag: str) -> tuple[list[str], int]:
    ids: list[str] = []
    calls = 0
    for start in range(0, count, 200):
        records = [lead(n, tag) for n in range(start, min(count, start + 200))]
        result = rep.restful(
            "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
        )
        calls += 1
        ids += [r["id"] for r in result]
    return ids, calls


def wait_quiet(rdb: redis.Redis, key: str, target: int, sbx: Any, timeout: float) -> float:
    """Seconds until the processed counter reaches target and callouts have drained."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while int(rdb.get(key) or 0) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {int(rdb.get(key) or 0)} of {target} processed")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    sbx.wait_for_callouts(60)
    time.sleep(2.0)  # echoes of our own writes: let them arrive and be dropped
    return elapsed


def main() -> None:
    # The baseline runs the pipeline in this process: keep its per-batch log lines quiet.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser()
    parser.add_argument("--economy", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=40)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--log-level", default="WARNING", help="of the bridge processes")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bridge-pipeline-"))
    with (
        redis_server(work) as redis_url,
        start_sandbox_process(
            work / "sf", api_daily_limit=10_000_000, callouts_enabled=False
        ) as sbx,
    ):
        env = bridge_env(
            work,
            redis_url,
            BRIDGE_SF_AUTH="sandbox",
            BRIDGE_SF_INSTANCE_URL=sbx.instance_url,
            BRIDGE_SF_CA_BUNDLE=str(sbx.ca_bundle),
            BRIDGE_SF_CLIENT_ID=sbx.client_id,
            BRIDGE_SF_CLIENT_SECRET=sbx.client_secret,
            BRIDGE_TRIGGER_BATCH_LINGER_SECONDS="0.5",
            BRIDGE_LOG_LEVEL=opts.log_level,
        )
        bridge("migrate", env=env)
        key = bridge("keys", "create", "--tenant", "bench", env=env).strip().splitlines()[-1]
        bridge("orgs", "add", "--tenant", "bench", sbx.org_id, env=env)
        bridge("credits", "grant", "--tenant", "bench", "10000000", env=env)
        settings = Settings(
            _env_file=None,
            redis_url=redis_url,
            database_url=env["DATABASE_URL"],
            sf_auth="sandbox",
            sf_instance_url=sbx.instance_url,
            sf_ca_bundle=sbx.ca_bundle,
            sf_client_id=sbx.client_id,
            sf_client_secret=sbx.client_secret,
        )
        db = Database(settings.sqlalchemy_url)
        tenant_id = 1
        sbx.seed(users=3, seed=11)
        users = sbx.salesforce().query("SELECT Id, Username FROM User WHERE IsActive = true")
        rep_user = next(u for u in users["records"] if u["Id"] != sbx.integration_user_id)
        rep = sbx.salesforce(sbx.token("password", username=rep_user["Username"]))
        rdb = redis.Redis.from_url(redis_url)
        counter = f"bridge:pipeline:processed:{tenant_id}:Lead"
        port = free_port()
        with (
            process(
                [sys.executable, "-m", "bridge", "web", "--port", str(port)], env, work / "web.log"
            ),
            process([sys.executable, "-m", "bridge", "dispatcher"], env, work / "disp.log"),
            process(
                [sys.executable, "-m", "bridge", "worker", "--concurrency", "2"],
                env,
                work / "worker.log",
            ),
        ):
            wait_http(f"http://127.0.0.1:{port}/healthz")
            sbx.set_callouts(
                url=f"http://127.0.0.1:{port}/v1/triggers/salesforce",
                api_key=key,
                enabled=True,
                backoff_seconds=0.2,
            )
            # Warm up both pool processes (token, config check against describe, matching
            # index): a Lead and a Contact batch at once land in one process each.
            for _round in range(2):
                insert(rep, 10, "Warm")
                rep.restful(
                    "composite/sobjects",
                    method="POST",
                    json={
                        "allOrNone": True,
                        "records": [
                            {"attributes": {"type": "Contact"}, "LastName": f"W{n}"}
                            for n in range(10)
                        ],
                    },
                )
                time.sleep(0.5)
            wait_quiet(rdb, counter, 20, sbx, 120)

            # -- economy ---------------------------------------------------------------------
            used = sbx.api_usage()["used"]
            ids, insert_calls = insert(rep, opts.economy, "Econ")
            wait_quiet(rdb, counter, 20 + opts.economy, sbx, 300)
            bridge_calls = sbx.api_usage()["used"] - used - insert_calls
            written = len(
                sbx.salesforce().query(
                    format_soql(
                        "SELECT Id FROM Lead WHERE Enrichment_Status__c = 'Enriched'"
                        " AND Id IN {ids}",
                        ids=ids[:200],
                    )
                )["records"]
            )

            # baseline: the same pipeline, one record per batch, callouts off
            sbx.set_callouts(enabled=False)
            naive_ids, _ = insert(rep, opts.economy, "Naive")
            gateway = SalesforceGateway.from_settings(settings)
            config = load()
            naive = build_pipeline(config, StepDeps(settings, gateway, rdb, db, config))
            before = sum(gateway.calls_by_operation.values())
            for record_id in naive_ids:
                naive.process(
                    Batch(
                        tenant_id,
                        "Lead",
                        [BatchItem(record_id, "bench", "webhook", "after_insert")],
                    )
                )
            naive_calls = sum(gateway.calls_by_operation.values()) - before
            per_1000 = bridge_calls * 1000 / opts.economy
            naive_per_1000 = naive_calls * 1000 / opts.economy
            report(
                "pipeline_api_economy",
                records=opts.economy,
                calls=bridge_calls,
                calls_per_1000=round(per_1000, 2),
                floor_per_1000=10,
                goal_per_1000=12,
                naive_calls_per_1000=round(naive_per_1000, 2),
                ratio_vs_naive=round(per_1000 / naive_per_1000, 4),
                sample_written=f"{written}/200",
            )
            sbx.set_callouts(enabled=True)

            # -- single-insert latency -------------------------------------------------------
            if opts.singles:
                single_insert_latency(sbx, rep_user["Id"], opts.singles)
            if opts.bulk:
                bulk_throughput(sbx, rep, rdb, counter, opts.bulk)
            gateway.close()
        print(f"logs: {work}", file=sys.stderr)
        rdb.close()
        db.dispose()


def single_insert_latency(sbx: Any, rep_id: str, count: int) -> None:
    sf = sbx.salesforce()
    latencies = []
    for n in range(count):
        fields = {k: v for k, v in lead(n, "Single").items() if k != "attributes"}
        started = time.perf_counter()
        record_id = sbx.create("Lead", fields, as_user=rep_id)
        query = format_soql("SELECT Enrichment_Status__c FROM Lead WHERE Id = {}", record_id)
        while sf.query(query)["records"][0]["Enrichment_Status__c"] != "Enriched":
            if time.perf_counter() - started > 30:
                raise RuntimeError("single insert not written back in 30 s")
            time.sleep(0.01)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    report(
        "pipeline_single_insert_latency",
        inserts=len(latencies),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p95_ms=round(p95 * 1000, 1),
        max_ms=round(latencies[-1] * 1000, 1),
        goal_p95_ms=2000,
    )
    sbx.wait_for_callouts(60)
    time.sleep(2)


def bulk_throughput(sbx: Any, rep: Any, rdb: redis.Redis, counter: str, count: int) -> None:
    base = int(rdb.get(counter) or 0)
    started = time.perf_counter()
    insert(rep, count, "Bulk")
    inserted = time.perf_counter() - started
    total = inserted + wait_quiet(rdb, counter, base + count, sbx, 900)
    report(
        "pipeline_bulk_throughput",
        records=count,
        seconds=round(total, 2),
        records_per_s=round(count / total, 1),
        insert_seconds=round(inserted, 2),
        worker_concurrency=2,
    )


if __name__ == "__main__":
    main()
