"""Form pushes to Salesforce (the sandbox over HTTPS through the gateway): the matcher finds
the person a second time, so the existing Lead or Contact is updated, never duplicated."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.tenants import service as tenants
from config.settings import Settings
from tests.conftest import with_sandbox


@pytest.fixture
def tenant(db: Database, sandbox: Any) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", sandbox.org_id)
    credits.grant(db, created.tenant_id, 1000)
    return {"Authorization": f"Bearer {created.key}"}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, sandbox: Any) -> TestClient:
    return await aiohttp_client(create_app(with_sandbox(settings, sandbox)))


def body(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Grace Hopper", "email": email, "company": "Navy Labs", "phone": "202 555 0100",
        "form_source": "webinar",
        "output_preferences": {"disposition": "salesforce", "lead_source": "Web"}, **extra,
    }  # fmt: skip


def leads(sandbox: Any, email: str, sobject: str = "Lead") -> list[dict[str, Any]]:
    fields = "Id, Title, Phone, LeadSource" if sobject == "Lead" else "Id, Title, Phone"
    query = f"SELECT {fields} FROM {sobject} WHERE Email = '{email}'"  # noqa: S608 (test-made)
    return sandbox.salesforce().query_all(query)["records"]


async def test_second_submission_updates_the_existing_lead(client, tenant, sandbox) -> None:
    email = f"grace.{uuid.uuid4().hex[:8]}@navy.example"
    first = await (await client.post("/v1/forms/submit", json=body(email), headers=tenant)).json()
    assert first["status"] == "pushed", first
    push = first["push_status"]
    assert push["action"] == "created" and push["sobject"] == "Lead"
    assert first["credits_consumed"] == 6
    (created,) = leads(sandbox, email)
    assert created["Id"] == push["record_id"] and created["Phone"] == "+12025550100"
    assert created["LeadSource"] == "Web"
    again = body(email, title="Rear Admiral", phone="+1 202 555 0199")
    second = await (await client.post("/v1/forms/submit", json=again, headers=tenant)).json()
    assert second["push_status"]["action"] == "updated", second
    assert second["push_status"]["record_id"] == push["record_id"]
    (updated,) = leads(sandbox, email)  # still one Lead
    assert updated["Title"] == "Rear Admiral" and updated["Phone"] == "+12025550199"


async def test_an_existing_contact_is_updated_not_duplicated_as_a_lead(
    client, tenant, sandbox
) -> None:
    email = f"ada.{uuid.uuid4().hex[:8]}@engines.example"
    contact = sandbox.create("Contact", {"LastName": "Lovelace", "Email": email})
    # a burst of double clicks: serialised per person, one record in the end
    answers = await asyncio.gather(*[
        client.post("/v1/forms/submit", json=body(email, title="Countess"), headers=tenant)
        for _ in range(3)
    ])  # fmt: skip
    pushes = [(await a.json())["push_status"] for a in answers]
    assert {(p["sobject"], p["action"], p["record_id"]) for p in pushes} == {
        ("Contact", "updated", contact)
    }
    assert leads(sandbox, email) == []
    assert leads(sandbox, email, "Contact")[0]["Title"] == "Countess"
