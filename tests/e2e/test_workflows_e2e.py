"""Workflows end to end with real processes: a trigger over HTTP to `bridge web` is queued in
Redis, `bridge beat` sends `workflows.drain`, `bridge worker` runs the steps against the sandbox
(enrich, match, push_salesforce, convert with a pool owner); the job reads back `completed`,
Salesforce holds the result and the audit trail is complete and in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import format_soql

from bridge.db import Database
from tests.e2e.conftest import BRIDGE, Processes, connected_stack, wait_until
from tests.integration.test_routing_fixtures import make_pool

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WORKFLOWS = """
workflows:
  intake_and_convert:
    object: Lead
    steps:
      - name: enrich
      - name: match
      - name: push_salesforce
      - name: convert
        options: {set_owner_round_robin_pool: closers, logs: {reason: e2e}}
"""


@dataclass
class Stack:
    sandbox: Any
    web_url: str
    key: str
    human: str

    def get(self, path: str, **params: str) -> dict[str, Any]:
        resp = requests.get(f"{self.web_url}{path}", params=params, timeout=5,
                            headers={"Authorization": f"Bearer {self.key}"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]


@pytest.fixture
def stack(
    tmp_path: Path, stack_env: dict[str, str], database_url: str, processes: Processes
) -> Iterator[Stack]:
    workflows = tmp_path / "workflows.yaml"
    workflows.write_text(WORKFLOWS)
    extra = {
        "BRIDGE_WORKFLOWS_CONFIG": str(workflows),
        "BRIDGE_BEAT_MAX_LOOP_INTERVAL": "1",
        # The workflow is under test, not the record pipeline or polling.
        "BRIDGE_PIPELINE_CONFIG": str(Path(__file__).with_name("data") / "pipeline-no-steps.yaml"),
        "BRIDGE_POLL_INTERVAL_SECONDS": "3600",
    }
    with connected_stack(tmp_path, stack_env, database_url, processes, extra) as c:
        c.sandbox.set_callouts(enabled=False)  # our writes must not start pipeline work too
        db = Database(database_url)
        make_pool(db, c.tenant_id, "closers", [{"user_id": c.human}])
        db.dispose()
        processes.worker(c.env, "--concurrency", "2", pool="threads")
        processes.start("beat", [*BRIDGE, "beat"], c.env).wait_for_log("beat: Starting")
        yield Stack(c.sandbox, c.web_url, c.key, c.human)


def test_a_triggered_workflow_is_run_by_the_worker_against_salesforce(stack: Stack) -> None:
    email = f"mae.{uuid.uuid4().hex[:8]}@jemison.example"
    record = {"FirstName": "Mae", "LastName": "Jemison", "Email": email,
              "Company": "Dorothy Jemison Foundation", "Phone": "(713) 555-0199",
              "Country": "US"}  # fmt: skip
    resp = requests.post(
        f"{stack.web_url}/v1/workflows/intake_and_convert/trigger",
        json={"record_data": record, "source_system": "cdp"},
        headers={"Authorization": f"Bearer {stack.key}", "Idempotency-Key": "cdp-evt-1"},
        timeout=5,
    )
    sent = resp.json()
    assert resp.status_code == 200 and sent["status"] == "queued", sent
    assert sent["credits_consumed"] == 4  # 1 + enrichment 2 + routing 1 (the convert's pool)
    job_id = sent["enrichment_job_id"]

    job: dict[str, Any] = {}

    def finished() -> bool:
        job.update(stack.get(f"/v1/workflows/jobs/{job_id}"))
        return job["status"] in ("completed", "failed")

    wait_until(finished, 30, "the workflow job to finish")
    assert job["status"] == "completed" and job["success"] is True, job
    assert job["attempts"] == 1 and job["error"] is None
    steps = {s["name"]: s for s in job["steps"]}
    assert list(steps) == ["enrich", "match", "push_salesforce", "convert"]
    assert all(s["status"] == "done" for s in job["steps"])
    assert "Phone" in steps["enrich"]["detail"]["filled"]
    assert steps["match"]["detail"]["matched"] is None
    assert steps["push_salesforce"]["detail"]["action"] == "created"
    lead_id = steps["push_salesforce"]["detail"]["record_id"]
    converted = steps["convert"]["detail"]
    assert converted["status"] == "converted" and job["record_id"] == lead_id

    # Salesforce holds what the steps say: the lead (enriched phone) converted by the pool's
    # owner into a new contact with the same email.
    sf = stack.sandbox.salesforce()
    (lead,) = sf.query(format_soql(
        "SELECT Id, Phone, IsConverted, ConvertedContactId, OwnerId FROM Lead WHERE Email = {}",
        email))["records"]  # fmt: skip
    assert lead["Id"] == lead_id and lead["Phone"] == "+17135550199"
    assert lead["IsConverted"] is True and lead["OwnerId"] == stack.human
    assert lead["ConvertedContactId"] == converted["contact_id"]
    (contact,) = sf.query(format_soql("SELECT Id, Email, OwnerId FROM Contact WHERE Email = {}",
                                      email))["records"]  # fmt: skip
    assert contact["Id"] == converted["contact_id"] and contact["OwnerId"] == stack.human

    # The audit trail: the trigger's request and response, every step in order, the end.
    entries = stack.get("/v1/workflows/audit", job_id=job_id)["entries"]
    assert [(e["kind"], e["step"]) for e in entries] == [
        ("request", None), ("response", None), ("step", "enrich"), ("step", "match"),
        ("step", "push_salesforce"), ("step", "convert"), ("done", None)]  # fmt: skip
    assert {e["request_id"] for e in entries} == {sent["request_id"]}
    assert entries[0]["body"]["record_data"]["Email"] == "[redacted]"
    assert entries[1]["body"]["status"] == "queued" and entries[1]["body"]["credits_consumed"] == 4
    assert entries[5]["body"]["detail"]["contact_id"] == converted["contact_id"]
    assert entries[6]["body"]["state"] == "completed"
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps)
    # The conversion's route log carries the trigger's request id.
    logs = stack.get("/v1/logs/routing", **{"from": "2000-01-01", "to": "2100-01-01"})
    (convert_log,) = [e for e in logs["entries"] if e["action"] == "convert"]
    assert convert_log["object_id"] == lead_id and convert_log["request_id"] == sent["request_id"]

    # A replayed event (same Idempotency-Key) is the same job, not a second run or charge.
    again = requests.post(
        f"{stack.web_url}/v1/workflows/intake_and_convert/trigger",
        json={"record_data": record, "source_system": "cdp"},
        headers={"Authorization": f"Bearer {stack.key}", "Idempotency-Key": "cdp-evt-1"},
        timeout=5,
    ).json()
    assert again["enrichment_job_id"] == job_id and again["cached"] is True
    assert again["credits_consumed"] == 0
