"""The record pipeline end to end with real processes: a rep creates leads in the sandbox, its
Apex callouts reach `bridge web`, `bridge dispatcher` batches them, `bridge worker` enriches
(offline + a local upstream speaking the documented protocol) and writes back only what
changes, with route logs. Fill-only, the EU rule, 429/402, row locks, a permanent refusal and
a second run of the same batch are all exercised on the way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families
from simple_salesforce import format_soql
from sqlalchemy import select

from bridge.db import Database
from bridge.deadletters import service as deadletters
from bridge.logs.tables import RouteLog
from config.settings import Settings
from tests.e2e.conftest import Processes, connected_stack, wait_until
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer
from workers.celery_app import create_celery_app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

SOQL = (
    "SELECT Id, Phone, Email, Website, Country, Title, Company_Domain__c, Enrichment_Status__c,"
    " SystemModstamp, LastModifiedById FROM Lead WHERE Id IN {ids}"
)


@dataclass
class Stack:
    sandbox: Any
    upstream: UpstreamServer
    env: dict[str, str]
    db: Database
    tenant_id: int
    human: str
    rdb: redis.Redis
    web_url: str

    def leads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        soql = format_soql(SOQL, ids=ids)
        return {r["Id"]: r for r in self.sandbox.salesforce().query(soql)["records"]}

    def logs(self) -> list[RouteLog]:
        with self.db.session() as session:
            query = select(RouteLog).where(RouteLog.tenant_id == self.tenant_id)
            return sorted(session.scalars(query), key=lambda r: r.id)

    def logged(self, record_id: str, action: str = "enrich") -> bool:
        return any(r.object_id == record_id and r.action == action for r in self.logs())


@pytest.fixture
def stack(
    tmp_path: Path,
    stack_env: dict[str, str],
    database_url: str,
    broker_url: str,
    processes: Processes,
) -> Iterator[Stack]:
    upstream = UpstreamServer(balance=1000)
    db = Database(database_url)
    with RunningUpstream(upstream):  # its port is known from here on
        extra = {
            "BRIDGE_SF_MAX_RETRIES": "1",  # a lock held twice outlives the gateway's retry
            "BRIDGE_TRIGGER_BATCH_LINGER_SECONDS": "0.3",
            "BRIDGE_ENRICH_UPSTREAM_URL": upstream.url,
            "BRIDGE_ENRICH_UPSTREAM_API_KEY": upstream.api_key,
            "BRIDGE_ENRICH_UPSTREAM_MAX_RETRY_WAIT_SECONDS": "1",
        }
        with connected_stack(
            tmp_path, stack_env, database_url, processes, extra, credits_granted=100_000
        ) as c:
            processes.worker(c.env, pool="solo")
            rdb = redis.Redis.from_url(broker_url)
            yield Stack(c.sandbox, upstream, c.env, db, c.tenant_id, c.human, rdb, c.web_url)
            rdb.close()
    db.dispose()


def test_leads_are_enriched_and_written_back(stack: Stack) -> None:
    sbx, up = stack.sandbox, stack.upstream
    up.add_person("Tess", "Ng", "tess.io", title="Director of Sales")
    up.add_person("Hans", "Meier", "firma.de", title="Leiter Vertrieb")
    up.add_person("Dee", "Long", "long.io", title="Principal " * 15)  # > Lead.Title's 128
    up.add_person("Bob", "Broke", "broke.io", title="CFO")
    up.script(429, retry_after=0.3)  # the first upstream call is rate limited, then retried
    # Every write's first record stays locked through the gateway's own retry: the batch task
    # retries, and then it goes through.
    sbx.add_fault(
        kind="UNABLE_TO_LOCK_ROW_RECORDS",
        path="composite/sobjects",
        method="PATCH",
        times=2,
        record_indexes=[0],
    )

    def create(**fields: Any) -> str:
        return str(sbx.create("Lead", {"Company": "Co", **fields}, as_user=stack.human))

    tess = create(
        FirstName="Tess", LastName="Ng", Email="Tess@TESS.io", Phone="(415) 555-0123", Country="USA"
    )
    keep = create(LastName="Keep", Email="k@acme.io", Website="https://keep.example.com")
    hans = create(FirstName="Hans", LastName="Meier", Email="hans@firma.de", Phone="+49 30 1234567")
    dee = create(FirstName="Dee", LastName="Long", Email="dee@long.io")
    ids = [tess, keep, hans, dee]
    wait_until(
        lambda: all(stack.logged(i) for i in ids[:3]) and stack.logged(dee, "error"),
        60,
        "enrich route logs for the batch",
    )

    rows = stack.leads(ids)
    assert rows[tess]["Phone"] == "+14155550123" and rows[tess]["Email"] == "Tess@tess.io"
    assert rows[tess]["Title"] == "Director of Sales"  # upstream, after a 429
    assert rows[tess]["Company_Domain__c"] == "tess.io"
    assert rows[tess]["Country"] == "USA"  # fill-only: a field with a value is not overwritten
    assert rows[tess]["Enrichment_Status__c"] == "Enriched"
    assert rows[keep]["Website"] == "https://keep.example.com"
    assert rows[keep]["Company_Domain__c"] == "example.com"
    assert rows[hans]["Phone"] == "+49301234567" and rows[hans]["Title"] is None
    assert "Meier" not in {body.get("last_name") for body in up.seen()}  # EU: never sent
    assert rows[dee]["Title"] is None  # refused by the org: recorded, not written
    rate_limited = [b for b in up.seen("person") if b.get("last_name") == "Ng"]
    assert len(rate_limited) == 2  # the 429 and the retry
    assert all(rows[i]["LastModifiedById"] == sbx.integration_user_id for i in ids[:3])

    logs = {(r.object_id, r.action): r for r in stack.logs()}
    tess_log = logs[(tess, "enrich")]
    assert tess_log.diff["Phone"] == {
        "old": "(415) 555-0123",
        "new": "+14155550123",
        "provider": "offline",
        "confidence": 0.95,
    }
    assert tess_log.diff["Title"]["provider"] == "upstream"
    assert "Country" not in tess_log.diff
    assert tess_log.reason == "webhook:after_insert" and tess_log.request_id
    error = logs[(dee, "error")]
    assert "STRING_TOO_LONG" in error.diff["error"]
    (letter,) = deadletters.list_dead_letters(stack.db)
    assert letter.args[0]["items"][0][0] == dee and letter.args[0]["force"] is True
    # Both locks were hit (the write and the gateway's retry); the task's retry went through.
    assert [(f["hits"], f["times"]) for f in sbx.faults()] == [(2, 0)]

    # 402: the upstream is out of credits; the lead still gets its offline enrichment.
    up.balance = 0
    bob = create(
        FirstName="Bob", LastName="Broke", Email="bob@broke.io", Phone="212 555 0101", Country="US"
    )
    wait_until(lambda: stack.logged(bob), 30, "bob enriched")
    bob_row = stack.leads([bob])[bob]
    assert bob_row["Phone"] == "+12125550101" and bob_row["Title"] is None
    assert any(b.get("last_name") == "Broke" for b in up.seen("person"))

    # Our write-backs fired callouts too: none of them became new work.
    sbx.wait_for_callouts()
    time.sleep(1.5)
    count = len(stack.logs())
    before = {i: r["SystemModstamp"] for i, r in stack.leads(ids).items()}
    # A second run of the same batch (a redelivery): no Salesforce write, no new route log.
    app = create_celery_app(
        Settings(redis_url=stack.env["REDIS_URL"], database_url=stack.env["DATABASE_URL"])
    )
    try:
        payload = {
            "tenant_id": stack.tenant_id,
            "object": "Lead",
            "items": [[i, "req-again", "webhook", "after_insert"] for i in ids],
        }
        result = app.send_task("triggers.process_batch", args=[payload]).get(timeout=30)
    finally:
        app.close()
    assert result["written"] == 0 and result["processed"] == 0
    assert {i: r["SystemModstamp"] for i, r in stack.leads(ids).items()} == before
    assert len(stack.logs()) == count

    # The work above moved the pipeline metrics, pushed by the worker and summed by the web.
    wanted = {
        "batches": ("bridge_batch_size_count", {"object": "Lead"}),
        "enrich runs": ("bridge_pipeline_step_runs_total", {"step": "enrich", "outcome": "ok"}),
        "processed": ("bridge_pipeline_records_total", {"outcome": "processed"}),
        "salesforce calls": ("bridge_salesforce_api_calls_total", {}),
    }
    wait_until(
        lambda: all(metric_sum(stack.web_url, n, **labels) > 0 for n, labels in wanted.values()),
        15,
        "pipeline metrics on /metrics",
    )
    assert metric_sum(stack.web_url, "bridge_pipeline_records_total", outcome="processed") >= 4


def metric_sum(web_url: str, name: str, **labels: str) -> float:
    """The sum of a scraped series over the samples whose labels include `labels`."""
    text = requests.get(f"{web_url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
