"""GET /metrics: the numbers move when work flows, across processes, from shared stores."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.db.base import utcnow
from bridge.deadletters import service as deadletters
from bridge.metrics import counters
from bridge.metrics.recorder import COUNTERS_KEY, RECORDER, field_for, parse_field
from bridge.salesforce.ids import to_18
from bridge.salesforce.usage import ApiUsage
from bridge.tenants import service as tenants
from bridge.triggers.tables import PollState
from bridge.web.appkeys import SALESFORCE
from config.settings import Settings

ORG = to_18("00D5g000004bQ2K")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: Any, **headers: str) -> Samples:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    RECORDER.drain()  # counts left by earlier tests in this process
    return await aiohttp_client(create_app(settings))


async def test_http_and_trigger_metrics_move(client: Any, db: Database) -> None:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", ORG)
    credits.grant(db, created.tenant_id, 1000)
    headers = {"Authorization": f"Bearer {created.key}"}
    before = await scrape(client)
    ids = [to_18(f"00Q5g00000{n:05d}") for n in range(3)]
    body = {"object": "Lead", "ids": ids, "event": "after_insert", "org_id": ORG}
    resp = await client.post("/v1/triggers/salesforce", json=body, headers=headers)
    assert resp.status == 200
    for _ in range(2):
        await client.get("/v1/logs/routing", params={"from": "2025-01-01", "to": "2025-01-02"},
                         headers=headers)  # fmt: skip
    await client.get("/v1/logs/routing", headers=headers)  # 422
    await client.get("/no/such/path")
    after = await scrape(client)
    route = {"method": "GET", "route": "/v1/logs/routing"}
    ok = value(after, "bridge_http_requests_total", **route, status="200")
    assert ok - value(before, "bridge_http_requests_total", **route, status="200") == 2
    assert value(after, "bridge_http_requests_total", **route, status="422") == 1
    assert value(after, "bridge_http_requests_total", method="GET", route="(unmatched)",
                 status="404") == 1  # fmt: skip
    # Latency by route and status class: the two 200s and the 422 apart.
    latency = "bridge_http_request_duration_seconds"
    assert (
        value(after, f"{latency}_count", **route, status="2xx")
        - value(before, f"{latency}_count", **route, status="2xx")
        == 2
    )
    assert value(after, f"{latency}_count", **route, status="4xx") == 1
    assert value(after, f"{latency}_bucket", **route, status="4xx", le="+Inf") == 1
    assert value(after, f"{latency}_count", method="GET", route="(unmatched)", status="4xx") == 1
    assert not [k for k in after if k[0].startswith(latency) and "status" not in dict(k[1])]
    assert value(after, "bridge_trigger_ids_accepted_total", object="Lead", source="webhook") == 3
    # A replayed callout (same webhook id) is not counted again.
    again = await client.post("/v1/triggers/salesforce", json=body,
                              headers={**headers, "webhook-id": "evt-1"})  # fmt: skip
    await client.post("/v1/triggers/salesforce", json=body,
                      headers={**headers, "webhook-id": "evt-1"})  # fmt: skip
    assert again.status == 200
    final = await scrape(client)
    assert value(final, "bridge_trigger_ids_accepted_total", object="Lead", source="webhook") == 6


async def test_other_processes_and_shared_stores(
    client: Any, settings: Settings, db: Database
) -> None:
    # A worker-like process counts a batch, a step and Salesforce calls, and flushes to Redis.
    code = textwrap.dedent(f"""
        import redis
        from bridge.metrics import counters
        from bridge.metrics.recorder import RECORDER
        from bridge.salesforce.usage import ApiUsage
        counters.batch_processed("Lead", 200, processed=190, skipped_loop_guard=10)
        with counters.step("Lead", "enrich"):
            pass
        try:
            with counters.step("Lead", "assign"):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        usage = ApiUsage()
        for _ in range(3):
            usage.record_call("query")
        usage.observe_header("api-usage=18/5000")
        counters.salesforce_usage(usage)
        counters.salesforce_usage(usage)  # no new calls: nothing more counted
        RECORDER.flush(redis.Redis.from_url({settings.redis_url!r}))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    # Queue depth, poll lag and dead letters are read from the stores at scrape time.
    broker = redis.Redis.from_url(settings.broker_url)
    broker.lpush("celery", "m1", "m2", "m3")
    broker.hset("unacked", "tag", "m0")
    tenant_id = tenants.create_key(db, "acme").tenant_id
    with db.session() as s:
        s.add(
            PollState(
                tenant_id=tenant_id,
                object="Lead",
                # The last poll drained everything 2 minutes ago: that is the lag.
                watermark_ts=utcnow() - timedelta(seconds=600),
                last_poll_time=utcnow() - timedelta(seconds=120),
            )
        )
        s.add(PollState(tenant_id=tenant_id, object="Contact", last_error="SalesforceError: x"))
        deadletters.record(s, task_name="triggers.process_batch", task_id="t1", args=[],
                           kwargs={}, error="boom", attempts=9, tenant_id=tenant_id)  # fmt: skip
    samples = await scrape(client)
    assert value(samples, "bridge_batch_size_count", object="Lead") == 1
    assert value(samples, "bridge_batch_size_bucket", object="Lead", le="200.0") == 1
    assert value(samples, "bridge_batch_size_bucket", object="Lead", le="150.0") == 0
    processed = value(samples, "bridge_pipeline_records_total", object="Lead", outcome="processed")
    assert processed == 190
    assert value(samples, "bridge_pipeline_step_runs_total", object="Lead", step="enrich",
                 outcome="ok") == 1  # fmt: skip
    assert value(samples, "bridge_pipeline_step_runs_total", object="Lead", step="assign",
                 outcome="error") == 1  # fmt: skip
    assert value(samples, "bridge_salesforce_api_calls_total", operation="query") == 3
    assert value(samples, "bridge_salesforce_api_daily_limit") == 5000
    assert value(samples, "bridge_salesforce_api_remaining") == 4982
    assert value(samples, "bridge_queue_depth", state="queued") == 3
    assert value(samples, "bridge_queue_depth", state="unacked") == 1
    assert 119 <= value(samples, "bridge_poll_lag_seconds", object="Lead") < 180
    assert value(samples, "bridge_poll_failing", object="Contact") == 1
    assert value(samples, "bridge_dead_letters_open", task="triggers.process_batch") == 1
    assert value(samples, "bridge_dead_letters_total") == 1
    broker.close()


def test_usage_deltas_survive_a_reset() -> None:
    RECORDER.drain()
    usage = ApiUsage()
    for _ in range(3):
        usage.record_call("update")
    counters.salesforce_usage(usage)
    usage.reset()  # counts start again from zero: the new count is all new calls
    usage.record_call("update")
    counters.salesforce_usage(usage)
    counted, _ = RECORDER.drain()
    assert sum(counted.values()) == 4


async def test_metrics_token(aiohttp_client: Any, settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("s3cret-token")})
    client = await aiohttp_client(create_app(guarded))
    assert (await client.get("/metrics")).status == 401
    bad = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert bad.status == 401
    good = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert good.status == 200 and "bridge_http_requests_total" in await good.text()


async def test_web_process_counts_its_own_salesforce_calls(
    aiohttp_client: Any, sf_settings: Settings, db: Database, sandbox: Any
) -> None:
    """Web handlers (convert, routing, match, forms push) use the web process's gateway: its
    calls reach the shared totals by the periodic flush and by a scrape, not only a worker's."""
    RECORDER.drain()
    settings = sf_settings.model_copy(update={"metrics_flush_seconds": 0.2})
    client = await aiohttp_client(create_app(settings))
    gateway = client.app[SALESFORCE]
    await scrape(client)
    assert not gateway.opened  # a scrape never opens Salesforce
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", sandbox.org_id)
    credits.grant(db, created.tenant_id, 100)
    resp = await client.post(
        "/v1/salesforce/convert", json={"lead_sf_id": to_18("00Q000000000001")},
        headers={"Authorization": f"Bearer {created.key}"},
    )  # fmt: skip
    assert resp.status == 404  # the lead was looked up in the sandbox
    made = gateway().usage.snapshot()["calls_by_operation"]
    assert sum(made.values()) > 0
    # The periodic flush pushes them without a scrape. Poll for all of them, not the first
    # flush that shows some: one flush may race the last calls' counting (bounded: 5 s).
    pushed: dict[str, float] = {}
    for _ in range(50):
        await asyncio.sleep(0.1)
        pushed = {
            dict(labels)["operation"]: v
            for (name, labels), v in (await read_counters(settings.redis_url)).items()
            if name == "bridge_salesforce_api_calls_total"
        }
        if pushed == made:
            break
    assert pushed == made
    samples = await scrape(client)
    for operation, count in made.items():
        assert value(samples, "bridge_salesforce_api_calls_total", operation=operation) == count


async def read_counters(redis_url: str) -> Samples:
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = await client.hgetall(COUNTERS_KEY)
    finally:
        await client.aclose()
    out: Samples = {}
    for field, amount in raw.items():
        name, labels = parse_field(field)
        out[(name, tuple(sorted(labels.items())))] = float(amount)
    return out


async def test_series_stored_before_a_label_was_added_do_not_break_a_scrape(
    client: Any, settings: Settings
) -> None:
    # A deployment upgraded from the latency histogram without `status` keeps its old totals.
    old_labels = {"method": "GET", "route": "/v1/logs/routing"}
    broker = redis.Redis.from_url(settings.redis_url)
    for series, amount in (("_count", 4), ("_sum", 0.5)):
        field = field_for("bridge_http_request_duration_seconds" + series, old_labels)
        broker.hincrbyfloat(COUNTERS_KEY, field, amount)
    bucket = field_for("bridge_http_request_duration_seconds_bucket", {**old_labels, "le": "+Inf"})
    broker.hincrbyfloat(COUNTERS_KEY, bucket, 4)
    broker.close()
    await client.get("/healthz")
    samples = await scrape(client)  # 200, the old series left out
    latency = "bridge_http_request_duration_seconds_count"
    assert value(samples, latency, method="GET", route="/healthz", status="2xx") == 1
    assert value(samples, latency, **old_labels) == 0
