"""Batch agents through the real app, SQL, Redis, the sandbox (over HTTPS through the gateway),
a local upstream enrichment API and a local chat-completions server. Runs are stepped with the
same `runner.step` the worker task calls (the worker process itself: tests/e2e)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.agents import runner
from bridge.agents.storage import key_of
from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.tenants import service as tenants
from config.settings import Settings
from tests.conftest import with_sandbox
from tests.integration.test_agents_harness import harness, make_leads, read_csv, teach
from tests.integration.test_ai_chat_server import ChatServer, RunningChat
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(balance=100_000)
    teach(server)
    with RunningUpstream(server):
        yield server


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    with RunningChat(server):
        yield server


@pytest.fixture
def agent_settings(settings: Settings, sandbox: Any, upstream: UpstreamServer, chat: ChatServer):
    return with_sandbox(
        settings,
        sandbox,
        enrich_upstream_url=upstream.url,
        enrich_upstream_api_key=upstream.api_key,
        ai_base_url=chat.url,
        ai_api_key=chat.api_key,
        ai_model="small",
        rate_limit_batch_per_min=1000,
    )


@pytest.fixture
def tenant(db: Database) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, 1000)
    return {"headers": {"Authorization": f"Bearer {created.key}"}, "id": created.tenant_id}


@pytest.fixture
async def client(aiohttp_client: Any, agent_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(agent_settings))


async def submit(client: TestClient, tenant: dict[str, Any], agent: str, body: dict[str, Any]):
    resp = await client.post(f"/v1/agents/{agent}", json=body, headers=tenant["headers"])
    data = await resp.json()
    assert resp.status == 202, data
    assert set(data) == {"run_id", "result_path", "credits_csv_path"}
    return data


async def status(client: TestClient, tenant: dict[str, Any], run_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/agents/runs/{run_id}/status", headers=tenant["headers"])
    assert resp.status == 200
    return await resp.json()


def fetch_csvs(h: Any, accepted: dict[str, str]) -> tuple[Any, Any]:
    results = read_csv(h.storage.get(key_of(h.storage, accepted["result_path"])))
    spent = read_csv(h.storage.get(key_of(h.storage, accepted["credits_csv_path"])))
    return results, spent


async def test_phone_agent_end_to_end(client, tenant, sandbox, agent_settings, db) -> None:
    leads = make_leads(sandbox)
    accepted = await submit(
        client, tenant, "phone", {"ids": [*leads, "bogus-id"], "max_credits": 100}
    )
    run_id = accepted["run_id"]
    day = r"\d{4}-\d{2}-\d{2}"
    assert re.fullmatch(
        rf"file:///.+/person/phone-enrichment-batch_{day}_{run_id}\.csv", accepted["result_path"]
    )
    assert re.fullmatch(
        rf"file:///.+/person/phone-enrichment/{day}/{run_id}_credits\.csv",
        accepted["credits_csv_path"],
    )
    first = await status(client, tenant, run_id)
    assert first["status"] == "queued" and first["total"] == 6 and first["started_at"] is None
    h = harness(agent_settings, db)
    h.drive(run_id)
    done = await status(client, tenant, run_id)
    assert done["status"] == "completed"
    assert (done["processed"], done["found"], done["skipped"], done["errors"]) == (4, 2, 2, 0)
    assert done["credits_consumed"] == 10 and done["not_processed"] == 0
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]
    (header, rows), (c_header, c_rows) = fetch_csvs(h, accepted)
    assert header == [
        "id",
        "first_name",
        "last_name",
        "company_name",
        "company_url",
        "linkedin",
        "phone_number",
        "phone_found",
    ]
    by_name = {r["last_name"]: r for r in rows}
    assert by_name["Hopper"]["phone_number"] == "+12025550100"
    assert by_name["Hopper"]["phone_found"] == "true" and by_name["Hopper"]["id"] == leads[0]
    assert by_name["Turing"]["phone_found"] == "true"
    assert (
        by_name["Lovelace"]["phone_found"] == "false" and by_name["Lovelace"]["phone_number"] == ""
    )
    assert by_name["Hopper"]["company_url"] == "https://navy.mil"
    assert c_header == ["id", "credits_spent", "provider", "outcome"]
    outcomes = {r["id"]: r for r in c_rows}
    assert len(c_rows) == 6
    assert (
        outcomes[leads[0]]["credits_spent"] == "5" and outcomes[leads[0]]["provider"] == "upstream"
    )
    assert (
        outcomes[leads[1]]["credits_spent"] == "0" and outcomes[leads[1]]["outcome"] == "not_found"
    )
    assert outcomes[leads[4]]["outcome"].startswith("skipped: missing")
    assert outcomes["bogus-id"]["outcome"] == "skipped: invalid id"
    assert sorted(h.debits(run_id)) == sorted([(leads[0], 5), (leads[2], 5)])
    assert credits.remaining(db, tenant["id"]) == 990
    # A finished run steps no further and charges nothing more.
    assert runner.step(h.ctx, run_id) is False and len(h.debits(run_id)) == 2


async def test_email_and_phone_email_agents(client, tenant, sandbox, agent_settings, db) -> None:
    leads = make_leads(sandbox)
    h = harness(agent_settings, db, chunk_size=3)
    email = await submit(client, tenant, "email", {"ids": leads, "max_credits": 100})
    both = await submit(client, tenant, "phone-email", {"ids": leads, "max_credits": 100})
    h.drive(email["run_id"])
    h.drive(both["run_id"])
    (header, rows), _ = fetch_csvs(h, email)
    assert header == [
        "id",
        "first_name",
        "last_name",
        "company_name",
        "company_url",
        "linkedin",
        "email",
        "email_found",
    ]
    found = {r["last_name"]: r["email"] for r in rows if r["email_found"] == "true"}
    assert found == {"Hopper": "grace@navy.mil", "Lovelace": "ada@engines.io"}
    assert (await status(client, tenant, email["run_id"]))["skipped"] == 1
    (header, rows), (_, c_rows) = fetch_csvs(h, both)
    assert header == [
        "company_name",
        "company_url",
        "first_name",
        "id",
        "last_name",
        "linkedin",
        "email",
        "email_found",
        "phone_number",
        "phone_found",
    ]
    hopper = next(r for r in rows if r["last_name"] == "Hopper")
    assert (hopper["email_found"], hopper["phone_found"]) == ("true", "true")
    spent = {r["id"]: int(r["credits_spent"]) for r in c_rows}
    assert spent == {leads[0]: 10, leads[1]: 5, leads[2]: 5, leads[3]: 0, leads[4]: 0}
    assert (await status(client, tenant, both["run_id"]))["credits_consumed"] == 20


async def test_credit_stop(client, tenant, sandbox, agent_settings, db) -> None:
    leads = make_leads(sandbox)
    accepted = await submit(client, tenant, "phone-email", {"ids": leads, "max_credits": 12})
    h = harness(agent_settings, db)
    h.drive(accepted["run_id"])
    done = await status(client, tenant, accepted["run_id"])
    # Grace costs 10; Ada's email (5) is capped at the 2 left; then nothing is left: stop.
    assert done["status"] == "completed" and done["stopped_reason"] == "max_credits"
    assert done["credits_consumed"] == 12 and done["processed"] == 2
    assert done["not_processed"] == 3
    (_, rows), (_, c_rows) = fetch_csvs(h, accepted)
    assert [r["last_name"] for r in rows] == ["Hopper", "Lovelace"]
    assert [r["credits_spent"] for r in c_rows[:2]] == ["10", "2"]
    assert c_rows[1]["outcome"] == "found: email (capped at max_credits)"
    assert [r["outcome"] for r in c_rows[2:]] == ["not processed: max_credits"] * 3
    assert sorted(a for _, a in h.debits(accepted["run_id"])) == [2, 10]
    assert credits.remaining(db, tenant["id"]) == 988


async def test_budget_below_one_records_price(
    client, tenant, sandbox, agent_settings, chat, db
) -> None:
    """max_credits below the most one record can cost (research 12, phone-email 10) still
    works the record and charges what is left, instead of stopping before it."""
    chat.replies.append("x" * 10_000)  # 12 credits by the bands
    lead = make_leads(sandbox)[0]
    body = {"ids": [lead], "entity_type": "person", "max_credits": 11}
    research = await submit(client, tenant, "deep-research", body)
    both = await submit(client, tenant, "phone-email", {"ids": [lead], "max_credits": 7})
    h = harness(agent_settings, db)
    for accepted, spent in ((research, 11), (both, 7)):
        h.drive(accepted["run_id"])
        done = await status(client, tenant, accepted["run_id"])
        assert (done["processed"], done["not_processed"]) == (1, 0), done
        assert done["credits_consumed"] == spent and done["stopped_reason"] is None
        (_, rows), (_, c_rows) = fetch_csvs(h, accepted)
        assert len(rows) == 1 and c_rows[0]["credits_spent"] == str(spent)
        assert c_rows[0]["outcome"].endswith("(capped at max_credits)")
    assert credits.remaining(db, tenant["id"]) == 1000 - 11 - 7


async def test_inline_records_skip_missing_fields(client, tenant, agent_settings, db) -> None:
    records = [
        {
            "id": "p1",
            "first_name": "Grace",
            "last_name": "Hopper",
            "company_name": "Navy",
            "company_url": "navy.mil",
        },
        {"id": "p2", "first_name": "Ada"},  # no last name, no company
        {"first_name": "No", "last_name": "Id", "company_name": "X"},  # no id
        {"id": "p4", "linkedin": "someone-123"},  # phone may be found from a LinkedIn id
    ]
    accepted = await submit(client, tenant, "phone", {"records": records, "max_credits": 50})
    h = harness(agent_settings, db)
    h.drive(accepted["run_id"])
    done = await status(client, tenant, accepted["run_id"])
    assert (done["total"], done["processed"], done["skipped"]) == (4, 2, 2)
    (_, rows), (_, c_rows) = fetch_csvs(h, accepted)
    assert [r["id"] for r in rows] == ["p1", "p4"]
    assert rows[0]["phone_number"] == "+12025550100"
    assert [r["outcome"] for r in c_rows][1:3] == [
        "skipped: missing first_name+last_name+company_name, linkedin or email",
        "skipped: missing id",
    ]


async def test_phone_email_skips_a_record_with_only_an_email(client, tenant, agent_settings, db):
    """The email is what phone-email looks for, so it is never an input: a record with nothing
    else is skipped, not looked up on nothing. For the phone agent an email is enough."""
    records = [{"id": "e1", "email": "grace@navy.mil"}]
    both = await submit(client, tenant, "phone-email", {"records": records, "max_credits": 50})
    phone = await submit(client, tenant, "phone", {"records": records, "max_credits": 50})
    h = harness(agent_settings, db)
    h.drive(both["run_id"])
    h.drive(phone["run_id"])
    done = await status(client, tenant, both["run_id"])
    assert (done["processed"], done["skipped"]) == (0, 1)
    _, (_, c_rows) = fetch_csvs(h, both)
    assert c_rows[0]["outcome"] == "skipped: missing first_name+last_name+company_name or linkedin"
    done = await status(client, tenant, phone["run_id"])
    assert (done["processed"], done["skipped"]) == (1, 0)


async def test_deep_research_on_accounts(client, tenant, sandbox, agent_settings, chat, db):
    acme = sandbox.create("Account", {"Name": "Acme Robotics", "Website": "https://acme.io"})
    lead = make_leads(sandbox)[0]  # a Lead is not a company: skipped
    body = {
        "ids": [acme, lead],
        "entity_type": "company",
        "agent_type": "funding",
        "query_hint": "Who funded them?",
        "effort": "high",
        "max_credits": 40,
    }
    accepted = await submit(client, tenant, "deep-research", body)
    assert "/company/deep-research-batch_" in accepted["result_path"]
    h = harness(agent_settings, db)
    h.drive(accepted["run_id"])
    done = await status(client, tenant, accepted["run_id"])
    assert (done["status"], done["processed"], done["skipped"]) == ("completed", 1, 1)
    (header, rows), (_, c_rows) = fetch_csvs(h, accepted)
    assert header == [
        "id",
        "entity_type",
        "agent_type",
        "name",
        "company_url",
        "query",
        "response",
        "confidence",
        "sources",
    ]
    row = rows[0]
    assert (row["id"], row["name"], row["agent_type"]) == (acme, "Acme Robotics", "funding")
    assert row["query"].endswith("Who funded them?") and "Acme Robotics" in row["query"]
    assert "live web search was not available" in row["response"]
    sent = chat.requests[-1]
    assert "funding" in sent["messages"][0]["content"]
    spent = int(c_rows[0]["credits_spent"])
    assert spent >= 1 and done["credits_consumed"] == spent and c_rows[0]["provider"] == "ai"


async def test_research_sends_no_contact_data(client, tenant, sandbox, agent_settings, chat, db):
    """The model and the search tool get name, company, URL, LinkedIn and country: never the
    record's email or phone. An email alone therefore does not make a person researchable."""
    lead = sandbox.create(
        "Lead",
        {
            "FirstName": "Grace",
            "LastName": "Hopper",
            "Company": "Navy",
            "Website": "https://navy.mil",
            "Email": "grace.private@example.com",
            "Phone": "+12025550199",
            "Country": "US",
        },
    )
    body = {"ids": [lead], "entity_type": "person", "max_credits": 40}
    accepted = await submit(client, tenant, "deep-research", body)
    only_email = {"records": [{"id": "r1", "email": "x@example.com"}]}
    skipped = await submit(
        client, tenant, "deep-research", {**only_email, "entity_type": "person", "max_credits": 9}
    )
    searching = agent_settings.model_copy(update={"ai_search_url": chat.url.removesuffix("/v1")})
    h = harness(searching, db)
    h.drive(accepted["run_id"])
    h.drive(skipped["run_id"])
    (_, rows), _ = fetch_csvs(h, accepted)
    query = rows[0]["query"]
    assert "Grace" in query and "Navy" in query and "navy.mil" in query and "US" in query
    sent = [chat.searches[-1]["query"], *(m["content"] for m in chat.requests[-1]["messages"])]
    for text in [query, *sent]:
        assert "grace.private" not in text and "2025550199" not in text
    done = await status(client, tenant, skipped["run_id"])
    assert (done["processed"], done["skipped"]) == (0, 1)
    _, (_, c_rows) = fetch_csvs(h, skipped)
    assert c_rows[0]["outcome"] == "skipped: missing first_name+last_name or linkedin"


async def test_validation_status_codes_and_rate_limit(
    aiohttp_client, client, tenant, db, agent_settings
) -> None:
    ok = {"ids": ["00Q000000000001"], "max_credits": 10}
    bad = [
        {"ids": ["x"]},
        {"ids": [], "max_credits": 5},
        {"ids": ["x"] * 1001, "max_credits": 5},
        {"max_credits": 5},
        {**ok, "records": [{"id": "r"}]},
        {**ok, "max_credits": 0},
        {**ok, "entity_type": "company"},
    ]
    for body in bad:
        resp = await client.post("/v1/agents/phone", json=body, headers=tenant["headers"])
        assert resp.status == 422, (body, await resp.json())
    resp = await client.post(
        "/v1/agents/deep-research", json=ok, headers=tenant["headers"]
    )  # entity_type is required for research
    assert resp.status == 422
    for run_id, code in (("not-a-uuid", 400), ("123e4567-e89b-12d3-a456-426614174000", 404)):
        resp = await client.get(f"/v1/agents/runs/{run_id}/status", headers=tenant["headers"])
        data = await resp.json()
        assert resp.status == code and data["error"] and "request_id" in data
    accepted = await submit(client, tenant, "email", ok)
    other = tenants.create_key(db, "other")
    resp = await client.get(
        f"/v1/agents/runs/{accepted['run_id']}/status",
        headers={"Authorization": f"Bearer {other.key}"},
    )
    assert resp.status == 404  # another tenant's run does not exist for you
    # Empty account: 402 before any run is created.
    resp = await client.post(
        "/v1/agents/email", json=ok, headers={"Authorization": f"Bearer {other.key}"}
    )
    assert resp.status == 402
    # The documented default: 1 batch request per minute per key.
    values = agent_settings.model_dump() | {"rate_limit_batch_per_min": 1}
    limited = await aiohttp_client(create_app(Settings(_env_file=None, **values)))
    fresh = tenants.create_key(db, "fresh")
    credits.grant(db, fresh.tenant_id, 10)
    headers = {"Authorization": f"Bearer {fresh.key}"}
    assert (await limited.post("/v1/agents/email", json=ok, headers=headers)).status == 202
    resp = await limited.post("/v1/agents/email", json=ok, headers=headers)
    assert resp.status == 429 and (await resp.json())["retry_after"] > 0


async def test_status_is_rate_limited_like_sync(aiohttp_client, agent_settings, db) -> None:
    """Run status is polled: it is in the sync rate-limit area and says so in the headers; a
    key scoped to the batch agents may poll it."""
    values = agent_settings.model_dump() | {"rate_limit_sync_per_min": 3}
    client = await aiohttp_client(create_app(Settings(_env_file=None, **values)))
    key = tenants.create_key(db, "poller", scopes=["batch"])
    credits.grant(db, key.tenant_id, 10)
    headers = {"Authorization": f"Bearer {key.key}"}
    ok = {"ids": ["00Q000000000001"], "max_credits": 10}
    resp = await client.post("/v1/agents/email", json=ok, headers=headers)
    assert resp.status == 202
    url = f"/v1/agents/runs/{(await resp.json())['run_id']}/status"
    for _ in range(3):
        resp = await client.get(url, headers=headers)
        assert resp.status == 200 and resp.headers["X-RateLimit-Limit"] == "3"
    resp = await client.get(url, headers=headers)
    assert resp.status == 429 and (await resp.json())["retry_after"] > 0


async def test_research_unconfigured_is_503(aiohttp_client, settings, tenant) -> None:
    client = await aiohttp_client(create_app(settings))
    body = {"ids": ["001000000000001"], "entity_type": "company", "max_credits": 10}
    resp = await client.post("/v1/agents/deep-research", json=body, headers=tenant["headers"])
    assert resp.status == 503 and (await resp.json())["error"] == "AI enrichment is not configured"
