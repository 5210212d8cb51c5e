"""POST /v1/match through the real app, SQL, Redis and the sandbox; AI mode against a local
server speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.tenants import service as tenants
from config.settings import Settings
from tests.conftest import with_sandbox


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def accounts(sandbox: Any, tag: str) -> dict[str, str]:
    return {
        "acme": sandbox.create("Account", {"Name": f"Acme{tag} Holdings Inc.",
                                           "Website": f"https://acme{tag}.com",
                                           "Phone": "(415) 555-0100"}),
        "globex": sandbox.create("Account", {"Name": f"Globex{tag} Corporation",
                                             "Website": f"globex{tag}.com"}),
    }  # fmt: skip


@pytest.fixture
def tenant(db: Database, sandbox: Any) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", sandbox.org_id)
    credits.grant(db, created.tenant_id, 1000)
    return {"key": created.key, "tenant_id": created.tenant_id}


def auth(tenant: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant['key']}"}


async def app_client(
    aiohttp_client: Any, settings: Settings, sandbox: Any, **extra: Any
) -> TestClient:
    return await aiohttp_client(create_app(with_sandbox(settings, sandbox, **extra)))


async def post(client: TestClient, tenant: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    resp = await client.post("/v1/match", json=body, headers=auth(tenant))
    return resp.status, await resp.json()


async def test_simple_and_grouped_modes_charge_as_documented(
    aiohttp_client, settings, sandbox, tenant, accounts, tag
) -> None:
    client = await app_client(aiohttp_client, settings, sandbox)
    body = {
        "object": "account",
        "candidates": [{"company": f"ACME{tag} Holdings, LLC", "email": f"jo@acme{tag}.com"},
                       {"company": f"Acme{tag}"}],  # the trap: no supporting field
        "rules": ["domain:eq", "name:fuzzy0.85"],
    }  # fmt: skip
    status, data = await post(client, tenant, body)
    assert status == 200, data
    assert set(data) == {"success", "results", "credits_consumed", "credits_remaining",
                         "processing_time_ms", "cached"}  # fmt: skip
    assert data["success"] is True and data["cached"] is False
    assert data["credits_consumed"] == 2 and data["credits_remaining"] == 998
    first, second = data["results"]
    assert first["matched"] and first["mode"] == "simple" and first["credits_consumed"] == 1
    best = first["matches"][0]
    assert best["sf_id"] == accounts["acme"] and best["confidence"] > 0.99
    assert set(best["rules_fired"]) == {"domain:eq", "name:fuzzy0.85"}
    assert f"company domain acme{tag}.com is the same" in best["explanation"]
    assert second["matches"] == []  # "Acme" is not "Acme Holdings" without support
    grouped = {**body, "rules": {"groups": [{"all": ["domain:eq", "name:fuzzy0.8"]},
                                            {"all": ["phone:eq"]}], "threshold": 0.5}}  # fmt: skip
    grouped["candidates"] = [*body["candidates"], {"company": "Nobody", "phone": "415.555.0100"}]
    status, data = await post(client, tenant, grouped)
    assert status == 200, data
    assert data["credits_consumed"] == 6 and data["credits_remaining"] == 992
    assert [r["matched"] for r in data["results"]] == [True, False, False]  # phone alone: weak
    grouped["rules"]["threshold"] = 0.001
    status, data = await post(client, tenant, grouped)
    assert [r["matched"] for r in data["results"]] == [True, False, True]


async def test_default_rules_and_lead_candidates(
    aiohttp_client, settings, sandbox, tenant, accounts, tag
) -> None:
    client = await app_client(aiohttp_client, settings, sandbox)
    lead = {"FirstName": "Jo", "LastName": "Bloggs", "Company": f"Globex{tag}",
            "Email": f"jo@globex{tag}.com"}  # fmt: skip
    status, data = await post(client, tenant, {"object": "account", "candidates": [lead]})
    assert status == 200, data
    assert data["results"][0]["mode"] == "grouped" and data["credits_consumed"] == 2
    assert data["results"][0]["matches"][0]["sf_id"] == accounts["globex"]
    # A gmail lead at "Globex" with no other support: not enough for the default threshold.
    lead = {"LastName": "Bloggs", "Company": f"Globex{tag} Intl", "Email": "jo@gmail.com"}
    status, data = await post(client, tenant, {"object": "account", "candidates": [lead]})
    assert data["results"][0]["matches"] == []


@pytest.mark.parametrize(
    "change, where",
    [
        ({"rules": ["colour:eq"]}, ["body", "rules"]),
        ({"rules": ["name:fuzzy7"]}, ["body", "rules"]),
        ({"rules": {"groups": [{"all": []}]}}, ["body", "rules"]),
        ({"object": "opportunity"}, ["body", "object"]),
        ({"candidates": []}, ["body", "candidates"]),
        ({"candidates": [{"name": "x"}] * 101}, ["body", "candidates"]),
        ({"candidates": [{"name": None}]}, ["body", "candidates"]),
        ({"max_credits": -1}, ["body", "max_credits"]),
    ],
)
async def test_bad_requests_are_422_and_free(
    aiohttp_client, settings, sandbox, tenant, change, where
) -> None:
    client = await app_client(aiohttp_client, settings, sandbox)
    body = {"object": "account", "candidates": [{"name": "Acme"}], **change}
    status, data = await post(client, tenant, body)
    assert status == 422, data
    assert data["detail"][0]["loc"][: len(where)] == where
    assert credits.remaining(Database.from_settings(settings), tenant["tenant_id"]) == 1000


async def test_max_credits_is_honoured(
    aiohttp_client, settings, sandbox, tenant, accounts, tag
) -> None:
    client = await app_client(aiohttp_client, settings, sandbox)
    body = {"object": "account", "rules": {"groups": [["domain:eq"]]}, "max_credits": 5,
            "candidates": [{"website": f"acme{tag}.com"}, {"website": f"globex{tag}.com"},
                           {"website": f"acme{tag}.com"}]}  # fmt: skip
    status, data = await post(client, tenant, body)
    assert status == 200, data
    assert data["credits_consumed"] == 4  # two candidates at 2 credits fit in 5
    assert [r["skipped"] for r in data["results"]] == [False, False, True]
    assert [r["matched"] for r in data["results"]] == [True, True, False]
    status, data = await post(client, tenant, {**body, "max_credits": 1})
    assert status == 402 and data["credits_required"] == 2
    assert data["error"] == "max_credits is below the cost of one candidate"


async def test_insufficient_credits_is_402(aiohttp_client, settings, sandbox, db, accounts) -> None:
    poor = tenants.create_key(db, "poor")
    tenants.add_org(db, "poor", sandbox.org_id)
    credits.grant(db, poor.tenant_id, 1)
    client = await app_client(aiohttp_client, settings, sandbox)
    body = {"object": "account", "candidates": [{"name": "A"}, {"name": "B"}], "rules": ["name:eq"]}
    status, data = await post(client, {"key": poor.key}, body)
    assert status == 402 and data["credits_required"] == 2 and data["credits_remaining"] == 1


async def test_ai_mode_unconfigured_is_a_clear_400(
    aiohttp_client, settings, sandbox, tenant
) -> None:
    client = await app_client(aiohttp_client, settings, sandbox)
    body = {"object": "account", "candidates": [{"name": "Acme"}], "rules": {"mode": "ai"}}
    status, data = await post(client, tenant, body)
    assert status == 400
    assert data["error"] == "AI matching is not configured"
    assert "BRIDGE_MATCHING_AI_BASE_URL" in data["details"]["reason"]
    assert credits.remaining(Database.from_settings(settings), tenant["tenant_id"]) == 1000


@pytest.fixture
async def llm(aiohttp_server: Any) -> dict[str, Any]:
    """A local chat-completions server: judges records by their company domain."""
    state: dict[str, Any] = {"requests": [], "fail": False}

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        state["requests"].append({"auth": request.headers.get("Authorization"), "body": body})
        if state["fail"]:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        asked = json.loads(body["messages"][-1]["content"])
        mine = asked["candidate"].get("company_domain")
        matches = [
            {"id": r["id"], "score": 0.93 if r.get("company_domain") == mine else 0.05,
             "explanation": "same company domain" if r.get("company_domain") == mine
             else "different company"}
            for r in asked["records"]
        ]  # fmt: skip
        content = json.dumps({"matches": matches})
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
        })  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = await aiohttp_server(app)
    state["url"] = str(server.make_url("/v1"))
    return state


async def test_ai_mode_through_an_openai_compatible_server(
    aiohttp_client, settings, sandbox, tenant, accounts, tag, llm
) -> None:
    client = await app_client(
        aiohttp_client, settings, sandbox, matching_ai_base_url=llm["url"],
        matching_ai_api_key="sk-test", matching_ai_model="matcher-1",
    )  # fmt: skip
    body = {"object": "account", "rules": {"mode": "ai", "instructions": "be strict"},
            "candidates": [{"company": f"Acme{tag}", "website": f"acme{tag}.com"}]}  # fmt: skip
    status, data = await post(client, tenant, body)
    assert status == 200, data
    assert data["credits_consumed"] == 5 and data["results"][0]["mode"] == "ai"
    [best] = data["results"][0]["matches"]
    assert best["sf_id"] == accounts["acme"] and best["score"] == 0.93
    assert best["rules_fired"] == ["ai"] and "same company domain" in best["explanation"]
    sent = llm["requests"][-1]
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["model"] == "matcher-1"
    asked = json.loads(sent["body"]["messages"][-1]["content"])
    assert asked["instructions"] == "be strict" and asked["object"] == "account"
    # The provider fails: a 502, and the credits come back.
    llm["fail"] = True
    status, data = await post(client, tenant, body)
    assert status == 502 and data["error"] == "AI matching failed"
    assert credits.remaining(Database.from_settings(settings), tenant["tenant_id"]) == 995
