"""A workflow trigger's debit is attributed to its workflow and run: GET /v1/credits/usage
filtered by `workflow_id` or `workflow_run_id` finds it, and a deduplicated repeat nets out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.tenants import service as tenants
from config.settings import Settings

WORKFLOWS = """
workflows:
  lead_intake:
    object: Lead
    steps:
      - name: enrich
      - name: push_salesforce
      - name: assign
        options: {pool: inbound}
  contact_sync:
    object: Contact
    steps:
      - name: push_salesforce
"""
PERIOD = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"}
RECORD = {"record_data": {"LastName": "Hopper", "Email": "grace@navy.example"}}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> TestClient:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS)
    return await aiohttp_client(create_app(settings.model_copy(update={"workflows_config": path})))


@pytest.fixture
def auth(db: Database) -> dict[str, str]:
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, 100)
    return {"Authorization": f"Bearer {created.key}"}


async def used(client: TestClient, auth: dict[str, str], **filters: str) -> int:
    resp = await client.get("/v1/credits/usage", params={**PERIOD, **filters}, headers=auth)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["credits_used"]


async def test_usage_by_workflow_and_run_id(client: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "Idempotency-Key": "evt-1"}
    lead = await client.post("/v1/workflows/lead_intake/trigger", json=RECORD, headers=headers)
    first = await lead.json()
    assert lead.status == 200 and first["credits_consumed"] == 4, first  # 1 + 2 + 1
    other = await client.post("/v1/workflows/contact_sync/trigger", json=RECORD, headers=auth)
    assert (await other.json())["credits_consumed"] == 1
    again = await client.post("/v1/workflows/lead_intake/trigger", json=RECORD, headers=headers)
    assert (await again.json())["cached"] is True  # debited, then refunded under the same tags

    assert await used(client, auth, workflow_id="lead_intake") == 4
    assert await used(client, auth, workflow_id="contact_sync") == 1
    run = first["enrichment_job_id"]
    assert await used(client, auth, workflow_run_id=run) == 4
    assert await used(client, auth, workflow_id="lead_intake", workflow_run_id=run) == 4
    assert await used(client, auth, workflow_id="contact_sync", workflow_run_id=run) == 0
    assert await used(client, auth) == 5
