"""The workflow `convert` step against the sandbox: triggered over the real app, run by the
worker's runner, converted through the conversion service (pre-check, owner from a pool,
Salesforce's converted status, route logs), retried without a second pick, and refused at load
time where a workflow could never work."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from simple_salesforce import format_soql
from sqlalchemy import select

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.salesforce.lazy import lazy_gateway
from bridge.tenants import service as tenants
from bridge.workflows.config import WorkflowConfigError, load
from bridge.workflows.jobs import JobStore
from bridge.workflows.models import WorkflowTriggerRequest
from bridge.workflows.runner import RetryPolicy, WorkflowRunner
from bridge.workflows.service import price
from bridge.workflows.wiring import step_services
from config.settings import Settings
from tests.conftest import with_sandbox
from tests.integration.test_routing_fixtures import make_pool, two_active_users

WORKFLOWS = """
workflows:
  qualify:
    object: Lead
    steps:
      - name: match
      - name: push_salesforce
      - name: convert
        options: {set_owner_round_robin_pool: converters, logs: {reason: "from eloqua"}}
  merge_known:
    object: Lead
    steps:
      - name: match
      - name: convert
        options:
          match_policy:
            contact: {by: ["email:eq"], create_if_no_match: false}
            account: {by: ["domain:eq", "name:fuzzy0.85"]}
  convert_only:
    object: Lead
    steps:
      - name: convert
"""


@pytest.fixture
def sf_settings(settings: Settings, sandbox: Any, tmp_path: Path) -> Settings:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS)
    return with_sandbox(settings, sandbox, workflows_config=path)


@pytest.fixture
def tenant(db: Database, sandbox: Any) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", sandbox.org_id)  # conversion refuses an org not the tenant's
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


@pytest.fixture
def reps(sandbox: Any, db: Database, tenant: dict[str, Any]) -> list[str]:
    pair = two_active_users(sandbox, 3, 11)
    make_pool(db, tenant["id"], "converters", [{"user_id": u} for u in pair])
    return pair


async def trigger(client: TestClient, tenant: dict[str, Any], workflow: str,
                  record: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    resp = await client.post(f"/v1/workflows/{workflow}/trigger",
                             json={"record_data": record, "source_system": "eloqua"},
                             headers=tenant["auth"])  # fmt: skip
    data = await resp.json()
    assert resp.status == 200, data
    return data


async def job(client: TestClient, tenant: dict[str, Any], job_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/workflows/jobs/{job_id}", headers=tenant["auth"])
    return await resp.json()  # type: ignore[no-any-return]


def lead_row(sandbox: Any, lead_id: str) -> dict[str, Any]:
    (row,) = sandbox.salesforce().query_all(format_soql(
        "SELECT Id, IsConverted, Status, ConvertedContactId, ConvertedAccountId, OwnerId "
        "FROM Lead WHERE Id = {}", lead_id))["records"]  # fmt: skip
    return dict(row)


def leads_with(sandbox: Any, email: str) -> list[str]:
    soql = format_soql("SELECT Id FROM Lead WHERE Email = {}", email)
    return [r["Id"] for r in sandbox.salesforce().query_all(soql)["records"]]


def route_logs(db: Database, tenant_id: int) -> list[RouteLog]:
    with db.session() as session:
        rows = session.scalars(select(RouteLog).where(RouteLog.tenant_id == tenant_id)
                               .order_by(RouteLog.id)).all()  # fmt: skip
        session.expunge_all()
        return list(rows)


async def test_pushed_lead_is_converted_with_an_owner_from_the_pool_and_logged(
    client, tenant, runner, reps, sandbox, db
) -> None:
    email = f"kay.{uuid.uuid4().hex[:8]}@orbit.example"
    person = {"FirstName": "Kay", "LastName": "Orbit", "Email": email, "Company": "Orbit Labs"}
    sent = await trigger(client, tenant, "qualify", person)
    assert sent["credits_consumed"] == 2  # 1 + routing (the convert step's pool); no enrich
    assert runner.drain("test-worker") == 1
    data = await job(client, tenant, sent["enrichment_job_id"])
    assert data["status"] == "completed", data
    assert [s["name"] for s in data["steps"]] == ["match", "push_salesforce", "convert"]
    pushed, converted = data["steps"][1]["detail"], data["steps"][2]["detail"]
    assert pushed["action"] == "created" and converted["status"] == "converted"
    lead_id = pushed["record_id"]
    assert converted["lead_id"] == lead_id == data["record_id"]
    row = lead_row(sandbox, lead_id)
    assert row["IsConverted"] is True and row["Status"] == "Closed - Converted"
    assert (row["ConvertedContactId"], row["ConvertedAccountId"]) == (
        converted["contact_id"], converted["account_id"])  # fmt: skip
    assert row["OwnerId"] == converted["owner_id"] == reps[0]
    assert [a["type"] for a in converted["actions"]] == ["assign_owner", "create", "create",
                                                         "convert"]  # fmt: skip
    logs = {(r.object, r.action): r for r in route_logs(db, tenant["id"])}
    log = logs[("Lead", "convert")]
    assert log.object_id == lead_id and log.request_id == sent["request_id"]
    assert log.idempotency_key == f"workflow:{sent['enrichment_job_id']}"
    assert log.pool == "converters" and log.assigned_to == reps[0]
    assert "from eloqua" in (log.reason or "")
    audit = await (await client.get(
        f"/v1/workflows/audit?job_id={sent['enrichment_job_id']}", headers=tenant["auth"],
    )).json()  # fmt: skip
    assert [(e["kind"], e["step"]) for e in audit["entries"]] == [
        ("request", None), ("response", None), ("step", "match"), ("step", "push_salesforce"),
        ("step", "convert"), ("done", None)]  # fmt: skip
    assert audit["entries"][4]["body"]["detail"]["contact_id"] == converted["contact_id"]

    # The same person again: the match finds the Contact the conversion made (not the converted
    # Lead, which Salesforce would refuse to update) and there is nothing left to convert.
    again = await trigger(client, tenant, "qualify", {**person, "Title": "CTO"})
    runner.drain("test-worker")
    second = await job(client, tenant, again["enrichment_job_id"])
    assert second["status"] == "completed", second
    assert second["steps"][0]["detail"] == {"matched": converted["contact_id"],
                                            "object": "Contact"}  # fmt: skip
    assert second["steps"][1]["detail"]["action"] == "updated"
    assert "already a Contact" in second["steps"][2]["detail"]["skipped"]
    assert leads_with(sandbox, email) == [lead_id]
    soql = format_soql("SELECT Title FROM Contact WHERE Id = {}", converted["contact_id"])
    assert sandbox.salesforce().query_all(soql)["records"][0]["Title"] == "CTO"


async def test_a_known_person_is_converted_into_the_existing_contact_and_account(
    client, tenant, runner, sandbox
) -> None:
    tag = uuid.uuid4().hex[:8]
    name, email = f"Vega{tag}", f"lin@vega{tag}.io"
    account = sandbox.create("Account", {"Name": f"{name} Ltd", "Website": f"vega{tag}.io"})
    contact = sandbox.create("Contact", {"FirstName": "Lin", "LastName": name, "Email": email,
                                         "AccountId": account})  # fmt: skip
    lead = sandbox.create("Lead", {"FirstName": "Lin", "LastName": name, "Company": name,
                                   "Email": email})  # fmt: skip
    sent = await trigger(client, tenant, "merge_known", {"Id": lead, "LastName": name})
    assert sent["credits_consumed"] == 1  # no enrich, no routing
    runner.drain("test-worker")
    data = await job(client, tenant, sent["enrichment_job_id"])
    assert data["status"] == "completed", data
    detail = data["steps"][1]["detail"]
    assert (detail["contact_id"], detail["account_id"]) == (contact, account)
    assert {"match_contact", "merge", "convert"} <= {a["type"] for a in detail["actions"]}
    row = lead_row(sandbox, lead)
    assert (row["ConvertedContactId"], row["ConvertedAccountId"]) == (contact, account)

    # Converted already (a replayed event): `duplicate` with the same ids, nothing done.
    again = await trigger(client, tenant, "merge_known", {"Id": lead})
    runner.drain("test-worker")
    data = await job(client, tenant, again["enrichment_job_id"])
    assert data["status"] == "completed"
    assert data["steps"][1]["detail"]["status"] == "duplicate"
    assert data["steps"][1]["detail"]["contact_id"] == contact


async def test_a_lead_the_policy_leaves_unconverted_fails_the_job_with_the_reason(
    client, tenant, runner, sandbox, db
) -> None:
    tag = uuid.uuid4().hex[:8]
    lead = sandbox.create("Lead", {"LastName": f"Nobody{tag}", "Company": f"Nowhere{tag}",
                                   "Email": f"nobody@nowhere{tag}.example"})  # fmt: skip
    sent = await trigger(client, tenant, "merge_known", {"Id": lead})
    assert runner.drain("test-worker") == 1
    data = await job(client, tenant, sent["enrichment_job_id"])
    assert data["status"] == "failed" and data["attempts"] == 1  # permanent: not retried
    assert data["steps"][1]["status"] == "failed"
    assert f"lead {lead} not converted" in data["error"]
    assert lead_row(sandbox, lead)["IsConverted"] is False
    (skip,) = [r for r in route_logs(db, tenant["id"]) if r.object_id == lead]
    assert skip.action == "skip" and skip.request_id == sent["request_id"]
    # No lead to work on at all is a clear failure too, not a crash.
    none = await trigger(client, tenant, "convert_only", {"LastName": "Nobody"})
    runner.drain("test-worker")
    data = await job(client, tenant, none["enrichment_job_id"])
    assert data["status"] == "failed" and "needs a Lead" in data["error"]
    wrong = await trigger(client, tenant, "convert_only", {"Id": "003000000000001"})
    runner.drain("test-worker")
    data = await job(client, tenant, wrong["enrichment_job_id"])
    assert data["status"] == "failed" and "not a Lead id" in data["error"]


async def test_a_failed_convert_call_is_retried_with_the_same_owner(
    client, tenant, runner, reps, sandbox, db
) -> None:
    email = f"rae.{uuid.uuid4().hex[:8]}@retry.example"
    sent = await trigger(client, tenant, "qualify",
                         {"LastName": "Rae", "Email": email, "Company": "Retry Co"})  # fmt: skip
    sandbox.add_fault(kind="503", path="Soap", times=20)
    try:
        runner.drain("test-worker")
    finally:
        sandbox.clear_faults()
    data = await job(client, tenant, sent["enrichment_job_id"])
    assert data["status"] == "retrying" and data["error"], data
    assert [s["status"] for s in data["steps"]] == ["done", "done", "pending"]
    lead_id = data["steps"][1]["detail"]["record_id"]
    assert lead_row(sandbox, lead_id)["IsConverted"] is False
    assert runner.drain("test-worker") == 1  # the due retry
    data = await job(client, tenant, sent["enrichment_job_id"])
    assert data["status"] == "completed" and data["attempts"] == 2, data
    # The retry replayed the first attempt's pick: same owner, the rotation advanced once.
    assert data["steps"][2]["detail"]["owner_id"] == reps[0]
    assert lead_row(sandbox, lead_id)["OwnerId"] == reps[0]
    assigns = [r for r in route_logs(db, tenant["id"]) if r.action == "assign"]
    assert [(r.object_id, r.sequence) for r in assigns] == [(lead_id, 1)]
    assert len([s for s in data["steps"] if s["name"] == "push_salesforce"]) == 1
    assert leads_with(sandbox, email) == [lead_id]  # the push was not redone on the retry


async def test_a_tenant_that_does_not_own_the_org_converts_nothing(
    client, runner, sandbox, db
) -> None:
    outsider = tenants.create_key(db, "globex")  # no org of its own
    credits.grant(db, outsider.tenant_id, 10)
    them = {"id": outsider.tenant_id, "auth": {"Authorization": f"Bearer {outsider.key}"}}
    lead = sandbox.create("Lead", {"LastName": "Kept", "Company": "Acme"})
    sent = await trigger(client, them, "convert_only", {"Id": lead})
    runner.drain("test-worker")
    data = await job(client, them, sent["enrichment_job_id"])
    assert data["status"] == "failed" and data["attempts"] == 1
    assert "no Salesforce org is connected to this tenant" in data["error"]
    assert lead_row(sandbox, lead)["IsConverted"] is False


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("object: Contact\n    steps: [{name: convert}]", "converts Leads"),
        ("object: Lead\n    steps: [{name: convert}, {name: assign}]", "must come before convert"),
        ("object: Lead\n    steps: [{name: convert, options: {pool: x}}]", "unknown ['pool']"),
        ("object: Lead\n    steps: [{name: convert, options: {merge_policy: "
         "{on_contact_match: glue}}}]", "on_contact_match"),
    ],
)  # fmt: skip
def test_workflows_that_cannot_work_are_refused_at_load(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    path = tmp_path / "workflows.yaml"
    path.write_text(f"workflows:\n  bad:\n    {yaml_text}\n")
    with pytest.raises(WorkflowConfigError, match=message.replace("[", r"\[")):
        load(path)


BOTH_ROUTINGS = """
  convert_and_assign:
    object: Lead
    steps:
      - {name: enrich}
      - {name: assign, options: {pool: p}}
      - {name: convert, options: {set_owner_round_robin_pool: p}}
"""


def test_convert_costs_what_the_workflow_rules_say(tmp_path: Path) -> None:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS + BOTH_ROUTINGS)
    defs = load(path)
    body = WorkflowTriggerRequest(record_data={"LastName": "X"})
    assert price(defs["convert_only"], body) == 1  # conversion itself is not priced
    assert price(defs["merge_known"], body) == 1  # nor is its duplicate pre-check
    assert price(defs["qualify"], body) == 2  # the owner pool is routing: +1
    assert price(defs["convert_and_assign"], body) == 4  # routing is +1 once
    assert load()["lead_to_contact"].steps[-1].name == "convert"  # the shipped sample loads
