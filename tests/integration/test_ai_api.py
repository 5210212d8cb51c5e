"""POST /v1/enrich/ai and /v1/enrich/research through the real app, SQL credits and a local
chat-completions server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from bridge.ai.credits import credits_for
from bridge.app import create_app
from bridge.credits import service as credits
from bridge.credits.lease import CreditLeases
from bridge.db import Database
from bridge.tenants import service as tenants
from config.settings import Settings
from tests.integration.test_ai_chat_server import ChatServer, RunningChat

RESPONSE_FIELDS = {
    "success",
    "query",
    "response",
    "confidence",
    "credits_consumed",
    "credits_remaining",
    "token_usage",
    "processing_time_ms",
    "agent_used",
}


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    with RunningChat(server):
        yield server


def ai_settings(settings: Settings, chat: ChatServer, **extra: Any) -> Settings:
    values = settings.model_dump()
    values.update(
        {
            "ai_base_url": chat.url,
            "ai_api_key": chat.api_key,
            "ai_model": "small",
            "ai_model_high": "big",
            **extra,
        }
    )
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def tenant(db: Database) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, 100)
    return {"Authorization": f"Bearer {created.key}", "tenant_id": created.tenant_id}


def auth(tenant: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": tenant["Authorization"]}


async def client_for(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


async def test_text_answer_with_documented_fields(aiohttp_client, settings, chat, tenant) -> None:
    chat.replies.append("EV adoption is accelerating. " * 30)  # 870 characters: standard band
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post(
        "/v1/enrich/ai",
        json={"query": "Analyse EV trends", "agent_type": "funding"},
        headers=auth(tenant),
    )
    data = await resp.json()
    assert resp.status == 200, data
    assert set(data) == RESPONSE_FIELDS
    assert data["success"] is True and data["query"] == "Analyse EV trends"
    assert data["response"] == ("EV adoption is accelerating. " * 30).strip()
    assert data["agent_used"] == "funding"
    assert data["credits_consumed"] == credits_for(len(data["response"])) == 4
    assert data["credits_remaining"] == 96 and resp.headers["X-Credits-Remaining"] == "96"
    usage = data["token_usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert 0.9 < data["confidence"] <= 1.0  # exp(-0.05) from the provider's logprobs
    sent = chat.requests[-1]
    assert sent["model"] == "small" and "response_format" not in sent
    assert "funding" in sent["messages"][0]["content"]  # the funding agent's prompt file
    assert sent["messages"][1]["content"] == "Analyse EV trends"


async def test_json_mode_parses_and_retries_once(aiohttp_client, settings, chat, tenant, db):
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    body = {"query": "Extract the company", "options": {"format_json": True}, "effort": "high"}
    chat.replies.append('{"company": "Acme", "employees": 40}')
    resp = await client.post("/v1/enrich/ai", json=body, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200, data
    assert data["response"] == {"company": "Acme", "employees": 40}
    assert data["credits_consumed"] == 1 + 1  # short answer + 1 for JSON
    assert chat.requests[-1]["model"] == "big"
    assert chat.requests[-1]["response_format"] == {"type": "json_object"}
    # Invalid JSON first: one retry showing the model its error, +2 for JSON.
    chat.replies.extend(["Sure! company: Acme", '```json\n{"company": "Acme"}\n```'])
    resp = await client.post("/v1/enrich/ai", json=body, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200, data
    assert data["response"] == {"company": "Acme"} and data["credits_consumed"] == 3
    retry = chat.requests[-1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Sure! company: Acme"}
    assert "not a valid JSON object" in retry[-1]["content"]
    # Invalid twice: a 502 in the documented shape, nothing charged, nothing made up.
    chat.replies.extend(["nope", "[1, 2]"])
    resp = await client.post("/v1/enrich/ai", json=body, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 502 and data["error"] == "AI provider error"
    assert "invalid JSON twice" in data["details"]
    assert credits.remaining(db, tenant["tenant_id"]) == 100 - 2 - 3


async def test_max_credits_caps_the_charge(aiohttp_client, settings, chat, tenant) -> None:
    chat.replies.append("x" * 5000)  # complex band: 9 credits
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post(
        "/v1/enrich/ai", json={"query": "long", "max_credits": 5}, headers=auth(tenant)
    )
    data = await resp.json()
    assert credits_for(5000) == 9
    assert data["credits_consumed"] == 5 and data["credits_remaining"] == 95


async def test_charge_capped_at_what_the_account_has_left(aiohttp_client, settings, chat, db):
    """The band is known only after the model answered: an account that covers the reserved
    credit but not the band pays what it has left, never a 402 for an answer already given."""
    created = tenants.create_key(db, "thin")
    credits.grant(db, created.tenant_id, 3)
    headers = {"Authorization": f"Bearer {created.key}"}
    chat.replies.append("x" * 5000)  # complex band: 9 credits
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post("/v1/enrich/ai", json={"query": "long"}, headers=headers)
    data = await resp.json()
    assert resp.status == 200, data
    assert data["credits_consumed"] == 3 and data["credits_remaining"] == 0
    assert resp.headers["X-Credits-Remaining"] == "0"
    assert credits.remaining(db, created.tenant_id) == 0
    # Now empty: the next request is a 402 before the model is asked.
    resp = await client.post("/v1/enrich/ai", json={"query": "more"}, headers=headers)
    assert resp.status == 402 and len(chat.requests) == 1


async def test_emptied_account_reports_remaining_as_the_header_does(
    aiohttp_client, settings, chat, db, redis_url
) -> None:
    """The band charge finds the SQL balance empty (it takes nothing; no 402 for the caller):
    the body reports the remaining with the tenant's ingest lease, as X-Credits-Remaining does."""
    created = tenants.create_key(db, "leased")
    credits.grant(db, created.tenant_id, 40)
    connection = aioredis.Redis.from_url(redis_url)
    leases = CreditLeases(db, connection, redis_url)
    try:
        assert (await leases.refill(created.tenant_id, 0)).held == 2  # 1/20 of 40 to Redis
    finally:
        leases.close()
        await connection.aclose()
    credits.debit(db, created.tenant_id, 37, "test")  # SQL: 1 left, the lease holds 2
    chat.replies.append("x" * 5000)  # complex band: 9 credits
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post(
        "/v1/enrich/ai", json={"query": "long"}, headers={"Authorization": f"Bearer {created.key}"}
    )
    data = await resp.json()
    assert resp.status == 200, data
    assert data["credits_consumed"] == 1 and credits.remaining(db, created.tenant_id) == 0
    assert resp.headers["X-Credits-Remaining"] == "2"
    assert data["credits_remaining"] == 2


async def test_unconfigured_is_a_503_not_an_answer(aiohttp_client, settings, tenant, db):
    client = await client_for(aiohttp_client, settings)
    for path in ("/v1/enrich/ai", "/v1/enrich/research"):
        resp = await client.post(path, json={"query": "anything"}, headers=auth(tenant))
        data = await resp.json()
        assert resp.status == 503, data
        assert set(data) == {
            "error",
            "details",
            "request_id",
            "credits_required",
            "credits_remaining",
            "retry_after",
        }
        assert data["error"] == "AI enrichment is not configured"
        assert "BRIDGE_AI_BASE_URL" in data["details"]
    assert credits.remaining(db, tenant["tenant_id"]) == 100


async def test_validation(aiohttp_client, settings, chat, tenant) -> None:
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    bad = [
        {"query": ""},
        {"query": "   "},
        {"query": "x" * 8001},
        {},
        {"query": "q", "effort": "extreme"},
        {"query": "q", "agent_type": "sales"},
        {"query": "q", "options": {"format_json": "yes"}},
        {"query": "q", "max_credits": 0},
        {"query": "q", "max_credit": 5},  # not a documented field
        {"query": "q", "options": {"format_json": True, "temperature": 0}},
    ]
    for body in bad:
        resp = await client.post("/v1/enrich/ai", json=body, headers=auth(tenant))
        data = await resp.json()
        assert resp.status == 422, (body, data)
        assert data["detail"][0]["loc"][0] == "body"
    resp = await client.post("/v1/enrich/ai", json={"query": "x" * 8000}, headers=auth(tenant))
    assert resp.status == 200
    assert not chat.requests[:-1]  # nothing invalid reached the model


async def test_unreachable_model_is_502_and_refunded(aiohttp_client, settings, chat, tenant, db):
    chat.failures.append(500)
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post("/v1/enrich/ai", json={"query": "q"}, headers=auth(tenant))
    assert resp.status == 502
    assert (await resp.json())["details"] == "AI endpoint answered HTTP 500: boom"
    assert credits.remaining(db, tenant["tenant_id"]) == 100


async def test_provider_error_message_is_kept_without_secrets(
    aiohttp_client, settings, chat, tenant
) -> None:
    chat.failures.append(401)
    chat.failure_message = (
        "Incorrect API key provided: sk-proj-****wxyz. Caller ops@example.com, key sk-test-1."
    )
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post("/v1/enrich/ai", json={"query": "q"}, headers=auth(tenant))
    details = (await resp.json())["details"]
    assert resp.status == 502
    assert details.startswith("AI endpoint answered HTTP 401: Incorrect API key provided: ")
    assert "wxyz" not in details and "sk-test-1" not in details and "ops@" not in details
    assert "[redacted]" in details


async def test_reasoning_model_retried_without_logprobs(
    aiohttp_client, settings, chat, tenant
) -> None:
    """OpenAI's reasoning models refuse `logprobs` and `max_tokens` with a 400: the call is
    repeated once without them (max_completion_tokens instead), and the model is remembered."""
    chat.reasoning_models.add("reasoner")
    client = await client_for(aiohttp_client, ai_settings(settings, chat, ai_model="reasoner"))
    body = {"query": "Who makes EV batteries?", "options": {"format_json": True}}
    resp = await client.post("/v1/enrich/ai", json=body, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200, data
    assert isinstance(data["response"], dict) and data["confidence"] is None
    first, second = chat.requests
    assert first["max_tokens"] == 1_000 and first["logprobs"] is True
    assert "logprobs" not in second and "max_tokens" not in second
    assert second["max_completion_tokens"] == 1_000
    assert second["response_format"] == {"type": "json_object"}
    # Remembered for the process: the next call goes plain at once.
    resp = await client.post("/v1/enrich/ai", json={"query": "again"}, headers=auth(tenant))
    assert resp.status == 200 and len(chat.requests) == 3
    assert "logprobs" not in chat.requests[2]
    # A fresh model (effort high: "big", never switched) that refuses something else is not
    # retried: its message reaches the caller, and it keeps asking for logprobs.
    chat.failures.append(400)
    chat.failure_message = "Invalid value for 'temperature'."
    body = {"query": "q", "effort": "high"}
    resp = await client.post("/v1/enrich/ai", json=body, headers=auth(tenant))
    assert resp.status == 502 and len(chat.requests) == 4
    assert chat.requests[3]["model"] == "big" and chat.requests[3]["logprobs"] is True
    assert (await resp.json())["details"] == (
        "AI endpoint answered HTTP 400: Invalid value for 'temperature'."
    )


@pytest.mark.parametrize(
    "error",
    [
        {  # OpenAI: names max_tokens as its param, but does not refuse it
            "message": "max_tokens is too large: 4000. This model supports at most 2048 "
            "completion tokens, whereas you provided 4000.",
            "type": "invalid_request_error",
            "param": "max_tokens",
            "code": None,
        },
        {  # vLLM: a context-length error that mentions max_tokens
            "message": "'max_tokens' is too large: 4000. This model's maximum context length "
            "is 4096 tokens and your request has 200 input tokens (4000 > 4096 - 200).",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
    ],
)
async def test_max_tokens_too_large_is_not_a_refusal(
    aiohttp_client, settings, chat, tenant, error
) -> None:
    """A 400 that mentions max_tokens without saying it is unsupported is the caller's error:
    no plain retry, and the model keeps its logprobs (confidence) afterwards."""
    chat.failures.append((400, error))
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post("/v1/enrich/ai", json={"query": "q"}, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 502, data
    assert data["details"].startswith("AI endpoint answered HTTP 400: ")
    assert "too large" in data["details"] and len(chat.requests) == 1
    resp = await client.post("/v1/enrich/ai", json={"query": "again"}, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200 and data["confidence"] is not None
    assert chat.requests[1]["logprobs"] is True and chat.requests[1]["max_tokens"] == 1_000


async def test_plain_form_remembered_only_once_it_worked(
    aiohttp_client, settings, chat, tenant
) -> None:
    """A refusal whose plain retry fails (here a 503) does not switch the model: the next call
    tries the full form again, and only a plain call answered 200 is remembered."""
    chat.reasoning_models.add("reasoner")
    chat.failures.extend([(400, ChatServer.refused({"logprobs": True})), 503])
    client = await client_for(aiohttp_client, ai_settings(settings, chat, ai_model="reasoner"))
    resp = await client.post("/v1/enrich/ai", json={"query": "q"}, headers=auth(tenant))
    assert resp.status == 502 and (await resp.json())["details"] == (
        "AI endpoint answered HTTP 503: boom"
    )
    assert [("logprobs" in r, "max_completion_tokens" in r) for r in chat.requests] == [
        (True, False),
        (False, True),
    ]
    resp = await client.post("/v1/enrich/ai", json={"query": "again"}, headers=auth(tenant))
    assert resp.status == 200, await resp.json()
    assert chat.requests[2]["logprobs"] is True  # not remembered after the failed retry
    assert chat.requests[3]["max_completion_tokens"] == 1_000 and len(chat.requests) == 4
    resp = await client.post("/v1/enrich/ai", json={"query": "third"}, headers=auth(tenant))
    assert resp.status == 200 and len(chat.requests) == 5
    assert "logprobs" not in chat.requests[4]  # remembered once the plain call worked


async def test_ordinary_model_keeps_logprobs(aiohttp_client, settings, chat, tenant) -> None:
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post("/v1/enrich/ai", json={"query": "q"}, headers=auth(tenant))
    assert resp.status == 200 and (await resp.json())["confidence"] is not None
    assert len(chat.requests) == 1 and chat.requests[0]["logprobs"] is True


async def test_empty_account_is_402_before_the_model(aiohttp_client, settings, chat, db):
    created = tenants.create_key(db, "broke")
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post(
        "/v1/enrich/ai", json={"query": "q"}, headers={"Authorization": f"Bearer {created.key}"}
    )
    assert resp.status == 402 and not chat.requests


async def test_research_without_search_says_so(aiohttp_client, settings, chat, tenant) -> None:
    client = await client_for(aiohttp_client, ai_settings(settings, chat))
    resp = await client.post(
        "/v1/enrich/research", json={"query": "Battery storage news"}, headers=auth(tenant)
    )
    data = await resp.json()
    assert resp.status == 200, data
    assert data["agent_used"] == "general"
    assert "live web search was not available" in data["response"]
    system = chat.requests[-1]["messages"][0]["content"]
    assert "No live web search is available" in system
    assert chat.requests[-1]["model"] == "small"  # research defaults to medium -> ai_model


async def test_research_with_search_tool(aiohttp_client, settings, chat, tenant) -> None:
    chat.search_results = [
        {"title": "Grid batteries 2025", "url": "https://example.org/a", "content": "Sodium."}
    ]
    configured = ai_settings(settings, chat, ai_search_url=chat.url.removesuffix("/v1"))
    client = await client_for(aiohttp_client, configured)
    body = {"query": "Battery storage news", "options": {"format_json": True}, "effort": "high"}
    resp = await client.post("/v1/enrich/research", json=body, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200, data
    assert isinstance(data["response"], dict) and "limitations" not in data["response"]
    assert chat.searches == [
        {"query": "Battery storage news", "max_results": 8, "search_depth": "advanced"}
    ]
    user = chat.requests[-1]["messages"][1]["content"]
    assert "[1] Grid batteries 2025 (https://example.org/a)" in user
    assert json.loads(json.dumps(data["response"]))["answer"].startswith("About:")
