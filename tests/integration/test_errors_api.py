"""The documented error bodies through real endpoints: 422 (query, unparseable JSON bodies), 413
(declared and chunked), 402 from a debit, 404/405."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, make_mocked_request

from bridge.app import create_app
from bridge.credits.service import grant
from bridge.credits.store import Tags
from bridge.db import Database
from bridge.tenants.service import create_key
from bridge.web.auth import PRINCIPAL, VERIFIER
from bridge.web.charging import charge
from bridge.web.errors import ApiError
from config.settings import Settings

ERROR_FIELDS = {
    "error", "details", "request_id", "credits_required", "credits_remaining", "retry_after"
}  # fmt: skip
USAGE = "/v1/credits/usage"


@pytest.fixture
def small_body_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": 1024})


@pytest.fixture
async def client(aiohttp_client: Any, small_body_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(small_body_settings))


@pytest.fixture
def auth(db: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(db, 'acme').key}"}


def assert_422(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(body) == {"detail"}
    for item in body["detail"]:
        assert set(item) == {"loc", "msg", "type"}
        assert isinstance(item["loc"], list) and isinstance(item["msg"], str)
    return body["detail"]


async def test_missing_required_query(client: TestClient, auth: dict[str, str]) -> None:
    resp = await client.get(USAGE, headers=auth)
    assert resp.status == 422
    items = assert_422(await resp.json())
    assert {tuple(i["loc"]) for i in items} == {("query", "start_date"), ("query", "end_date")}
    assert {i["type"] for i in items} == {"missing"}


async def test_wrong_types_in_query(client: TestClient, auth: dict[str, str]) -> None:
    params = {"start_date": "yesterday", "end_date": "2024-13-45T99:00:00Z"}
    resp = await client.get(USAGE, params=params, headers=auth)
    assert resp.status == 422
    items = assert_422(await resp.json())
    assert [i["loc"] for i in items] == [["query", "start_date"], ["query", "end_date"]]
    assert resp.headers["X-RateLimit-Limit"] == "10"  # counted, and said so, even when invalid


async def test_end_before_start(client: TestClient, auth: dict[str, str]) -> None:
    params = {"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}
    resp = await client.get(USAGE, params=params, headers=auth)
    assert resp.status == 422
    assert "end_date" in assert_422(await resp.json())[0]["msg"]


async def test_declared_oversized_body_is_413(client: TestClient, auth: dict[str, str]) -> None:
    resp = await client.get(USAGE, data=b"x" * 4096, headers=auth)
    assert resp.status == 413
    body = await resp.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == "Request body too large"
    assert body["details"] == {"max_bytes": 1024}


async def test_chunked_oversized_body_is_413(client: TestClient, auth: dict[str, str]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 512

    resp = await client.get(USAGE, data=chunks(), headers=auth)
    assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert resp.status == 413
    body = await resp.json()
    assert set(body) == ERROR_FIELDS and body["details"] == {"max_bytes": 1024}


async def test_method_not_allowed_shape(client: TestClient, auth: dict[str, str]) -> None:
    resp = await client.post(USAGE, json={}, headers=auth)
    assert resp.status == 405
    assert set(await resp.json()) == ERROR_FIELDS
    assert "GET" in resp.headers["Allow"]


async def test_charge_answers_402_with_credit_fields(client: TestClient, db: Database) -> None:
    # `charge` is what every paid handler calls; no paid endpoint exists yet, so it is driven
    # with the running app and a request carrying a real principal.
    key = create_key(db, "payer")
    grant(db, key.tenant_id, 3)
    verification = await client.app[VERIFIER].verify(key.key)
    request = make_mocked_request("POST", "/v1/enrich/email", app=client.app)
    request[PRINCIPAL] = verification.principal
    spent = await charge(
        request, 2, "POST /v1/enrich/email", Tags(custom_key="k", custom_value="v")
    )
    assert spent.remaining == 1
    with pytest.raises(ApiError) as raised:
        await charge(request, 5, "POST /v1/enrich/email")
    response = raised.value.response()
    assert response.status == 402
    body = json.loads(response.body)  # type: ignore[arg-type]
    assert set(body) == ERROR_FIELDS
    assert body["credits_required"] == 5 and body["credits_remaining"] == 1


NESTED_PATHS = [
    "/v1/enrich/email",
    "/v1/match",
    "/v1/forms/submit",
    "/v1/routing/assign",
    "/v1/salesforce/convert",
    "/v1/triggers/salesforce",  # pydantic's own JSON parser, with its own depth limit
]


@pytest.fixture
async def roomy_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize("path", NESTED_PATHS)
@pytest.mark.parametrize("idempotency", [False, True])
async def test_deeply_nested_json_is_422(
    roomy_client: TestClient, auth: dict[str, str], path: str, idempotency: bool
) -> None:
    # Past Python's recursion limit json.loads raises RecursionError, not JSONDecodeError.
    headers = {**auth, "Content-Type": "application/json"}
    if idempotency:
        headers["Idempotency-Key"] = f"nested-{path}"
    resp = await roomy_client.post(path, data=b"[" * 5000 + b"]" * 5000, headers=headers)
    assert resp.status == 422, await resp.text()
    items = assert_422(await resp.json())
    assert items[0]["loc"] == ["body"] and items[0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": ' + b"[" * 150 + b"]" * 150 + b"}",  # parses, but deeper than accepted
        b'{"email": ' + b"9" * 5000 + b"}",  # int past Python's 4300-digit conversion limit
    ],
    ids=["depth", "long-int"],
)
async def test_unreasonable_json_is_422(
    roomy_client: TestClient, auth: dict[str, str], raw: bytes
) -> None:
    headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": "unreasonable"}
    resp = await roomy_client.post("/v1/routing/assign", data=raw, headers=headers)
    assert resp.status == 422, await resp.text()
    assert assert_422(await resp.json())[0]["type"] == "json_invalid"
