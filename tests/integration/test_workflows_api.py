"""POST /v1/workflows/{id}/trigger through the real app and Redis (its debit attributed to the
workflow and run in /v1/credits/usage); the jobs then run by the worker's runner against the
sandbox (steps in order, retries, audit trail)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.salesforce.lazy import lazy_gateway
from bridge.tenants import service as tenants
from bridge.workflows.config import load
from bridge.workflows.jobs import JobStore
from bridge.workflows.runner import RetryPolicy, WorkflowRunner
from bridge.workflows.wiring import step_services
from config.settings import Settings
from tests.conftest import with_sandbox
from tests.integration.test_routing_fixtures import make_pool

WORKFLOWS = """
workflows:
  lead_intake:
    object: Lead
    steps:
      - name: enrich
      - name: match
      - name: push_salesforce
      - name: assign
        options: {pool: inbound}
  contact_sync:
    object: Contact
    steps:
      - name: match
      - name: push_salesforce
"""


@pytest.fixture
def sf_settings(settings: Settings, sandbox: Any, tmp_path: Path) -> Settings:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS)
    return with_sandbox(settings, sandbox, workflows_config=path)


@pytest.fixture
def tenant(db: Database, sandbox: Any) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", sandbox.org_id)
    credits.grant(db, created.tenant_id, 100)
    return {"id": created.tenant_id, "auth": {"Authorization": f"Bearer {created.key}"}}


@pytest.fixture
async def client(aiohttp_client: Any, sf_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(sf_settings))


@pytest.fixture
def runner(sf_settings: Settings, db: Database) -> Any:
    client = redis.Redis.from_url(sf_settings.redis_url)
    gateway = lazy_gateway(sf_settings)
    yield WorkflowRunner(
        JobStore(client), db, load(sf_settings.workflows_config),
        step_services(sf_settings, client, db, gateway), retry=RetryPolicy(base_seconds=0.0),
    )  # fmt: skip
    if gateway is not None:
        gateway.close()
    client.close()


async def used(client: TestClient, auth: dict[str, str], **filters: str) -> int:
    """Credits used (GET /v1/credits/usage) over all time, narrowed by `filters`."""
    period = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"}
    resp = await client.get("/v1/credits/usage", params={**period, **filters}, headers=auth)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["credits_used"]


def lead(email: str) -> dict[str, Any]:
    return {"record_data": {"FirstName": "Grace", "LastName": "Hopper", "Email": email,
                            "Company": "Navy Labs", "Phone": "202 555 0100",
                            "Country": "US"},
            "source_system": "eloqua"}  # fmt: skip


async def test_unknown_workflow_is_a_404_in_the_documented_shape(client, tenant) -> None:
    resp = await client.post("/v1/workflows/nope/trigger", json=lead("a@b.io"),
                             headers=tenant["auth"])  # fmt: skip
    data = await resp.json()
    assert resp.status == 404 and data["request_id"]
    assert data["error"] == "Workflow not found" and data["details"] == {"workflow_id": "nope"}
    bad = await client.post("/v1/workflows/lead_intake/trigger", json={"record_data": {}},
                            headers=tenant["auth"])  # fmt: skip
    assert bad.status == 422 and "record_data" in str(await bad.json())


async def test_trigger_is_queued_charged_to_its_workflow_and_run_and_deduplicated(
    client, tenant, db
) -> None:
    headers = {**tenant["auth"], "Idempotency-Key": "evt-1"}
    first = await (await client.post("/v1/workflows/lead_intake/trigger", json=lead("x@y.io"),
                                     headers=headers)).json()  # fmt: skip
    assert first["status"] == "queued" and first["workflow_id"] == "lead_intake"
    assert first["credits_consumed"] == 4 and first["credits_remaining"] == 96  # 1 + 2 + 1
    assert first["cached"] is False and first["enrichment_job_id"]
    job_url = f"/v1/workflows/jobs/{first['enrichment_job_id']}"
    seen = await client.get(job_url, headers=tenant["auth"])
    assert seen.headers["X-Credits-Remaining"] == "96"
    again = await (await client.post("/v1/workflows/lead_intake/trigger", json=lead("x@y.io"),
                                     headers=headers)).json()  # fmt: skip
    assert again["cached"] is True and again["credits_consumed"] == 0
    assert again["enrichment_job_id"] == first["enrichment_job_id"]
    no_enrich = {**lead("x@y.io"), "enrichment_preferences": {"enabled": False}}
    third = await (await client.post("/v1/workflows/lead_intake/trigger", json=no_enrich,
                                     headers=tenant["auth"])).json()  # fmt: skip
    assert third["credits_consumed"] == 2
    job = await client.get(job_url, headers=tenant["auth"])
    # The trigger's balance went into the per-process cache, so an unpaid request agrees at
    # once rather than showing the balance it cached before the trigger.
    assert job.headers["X-Credits-Remaining"] == str(third["credits_remaining"]) == "94"
    data = await job.json()
    assert data["status"] == "queued" and [s["name"] for s in data["steps"]] == [
        "enrich", "match", "push_salesforce", "assign"]  # fmt: skip
    stranger = tenants.create_key(db, "globex")
    hidden = await client.get(job_url, headers={"Authorization": f"Bearer {stranger.key}"})
    assert hidden.status == 404  # another tenant's job does not exist for you
    contact = {"record_data": {"LastName": "Lovelace", "Email": "ada@engines.example"}}
    other = await (await client.post("/v1/workflows/contact_sync/trigger", json=contact,
                                     headers=tenant["auth"])).json()  # fmt: skip
    assert other["credits_consumed"] == 1
    # Each debit is tagged with its workflow and run (the job id); the deduplicated repeat was
    # debited, then refunded under the same tags, so it nets out.
    auth, run = tenant["auth"], first["enrichment_job_id"]
    assert await used(client, auth, workflow_id="lead_intake") == 4 + 2
    assert await used(client, auth, workflow_id="contact_sync") == 1
    assert await used(client, auth, workflow_run_id=run) == 4
    assert await used(client, auth, workflow_id="lead_intake", workflow_run_id=run) == 4
    assert await used(client, auth, workflow_id="contact_sync", workflow_run_id=run) == 0
    assert await used(client, auth) == 7


async def test_steps_run_in_order_against_the_sandbox_with_a_complete_audit_trail(
    client, tenant, runner, db, sandbox
) -> None:
    sandbox.seed(users=3, seed=7)
    users = sandbox.salesforce().query_all("SELECT Id FROM User WHERE IsActive = true")["records"]
    rep = next(u["Id"] for u in users if u["Id"] != sandbox.integration_user_id)
    make_pool(db, tenant["id"], "inbound", [{"user_id": rep}])
    email = f"grace.{uuid.uuid4().hex[:8]}@navy.example"
    sent = await (await client.post("/v1/workflows/lead_intake/trigger", json=lead(email),
                                    headers=tenant["auth"])).json()  # fmt: skip
    job_id = sent["enrichment_job_id"]
    assert runner.drain("test-worker") == 1
    data = await (await client.get(f"/v1/workflows/jobs/{job_id}", headers=tenant["auth"])).json()
    assert data["status"] == "completed", data
    steps = {s["name"]: s for s in data["steps"]}
    assert [s["status"] for s in data["steps"]] == ["done"] * 4
    assert "phone" in steps["enrich"]["detail"]["found"]
    assert steps["match"]["detail"]["matched"] is None
    assert steps["push_salesforce"]["detail"]["action"] == "created"
    record_id = steps["push_salesforce"]["detail"]["record_id"]
    assert steps["assign"]["detail"]["assigned_to"] == rep
    (row,) = sandbox.salesforce().query_all(
        f"SELECT Id, OwnerId, Phone FROM Lead WHERE Email = '{email}'"  # noqa: S608 (test-made)
    )["records"]
    assert row["Id"] == record_id and row["OwnerId"] == rep and row["Phone"] == "+12025550100"
    # The same person again: matched, updated, not duplicated.
    await client.post("/v1/workflows/lead_intake/trigger", json=lead(email), headers=tenant["auth"])
    runner.drain("test-worker")
    count = sandbox.salesforce().query_all(
        f"SELECT Id FROM Lead WHERE Email = '{email}'"  # noqa: S608 (test-made)
    )["totalSize"]
    assert count == 1
    audit = await (await client.get(f"/v1/workflows/audit?job_id={job_id}",
                                    headers=tenant["auth"])).json()  # fmt: skip
    kinds = [(e["kind"], e["step"]) for e in audit["entries"]]
    assert kinds == [("request", None), ("response", None), ("step", "enrich"),
                     ("step", "match"), ("step", "push_salesforce"), ("step", "assign"),
                     ("done", None)]  # fmt: skip
    entries = audit["entries"]
    assert entries[1]["body"]["credits_consumed"] == 4 and entries[1]["body"]["status"] == "queued"
    assert entries[0]["body"]["record_data"]["Email"] == "[redacted]"  # personal data
    assert entries[0]["request_id"] == sent["request_id"]


async def test_a_failing_step_is_retried_with_backoff_and_earlier_steps_not_redone(
    client, tenant, runner, sandbox
) -> None:
    email = f"ada.{uuid.uuid4().hex[:8]}@engines.example"
    sent = await (await client.post("/v1/workflows/contact_sync/trigger",
                                    json={"record_data": {"LastName": "Lovelace", "Email": email}},
                                    headers=tenant["auth"])).json()  # fmt: skip
    sandbox.add_fault(kind="503", path="composite/sobjects", method="POST", times=20)
    try:
        runner.drain("test-worker")
    finally:
        sandbox.clear_faults()
    job = f"/v1/workflows/jobs/{sent['enrichment_job_id']}"
    data = await (await client.get(job, headers=tenant["auth"])).json()
    assert data["status"] == "retrying" and data["attempts"] == 1 and data["error"], data
    assert [s["status"] for s in data["steps"]] == ["done", "pending"]
    assert runner.drain("test-worker") == 1  # the due retry
    data = await (await client.get(job, headers=tenant["auth"])).json()
    assert data["status"] == "completed" and data["attempts"] == 2
    assert data["steps"][1]["detail"]["action"] == "created"
    audit = await (await client.get(f"/v1/workflows/audit?job_id={sent['enrichment_job_id']}",
                                    headers=tenant["auth"])).json()  # fmt: skip
    assert [e["kind"] for e in audit["entries"]] == [
        "request", "response", "step", "retry", "step", "done"]  # fmt: skip
