"""Bearer-key auth through the real app: 401 shapes, revocation, scopes, origins, headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits.service import grant
from bridge.db import Database
from bridge.tenants.service import create_key, revoke_key
from bridge.web.auth import VERIFIER
from config.settings import Settings

ERROR_FIELDS = {
    "error", "details", "request_id", "credits_required", "credits_remaining", "retry_after"
}  # fmt: skip
REMAINING = "/v1/credits/remaining"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


def assert_401(status: int, body: dict[str, Any], headers: Any, error: str) -> None:
    assert status == 401
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    assert body["request_id"] == headers["X-Request-ID"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["Content-Type"].startswith("application/json")
    assert "X-Credits-Remaining" not in headers


async def test_missing_key(client: TestClient) -> None:
    resp = await client.get(REMAINING)
    assert_401(resp.status, await resp.json(), resp.headers, "Missing API key")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token brk_0123456789abcdef_x"],
)
async def test_malformed_header(client: TestClient, header: str) -> None:
    resp = await client.get(REMAINING, headers={"Authorization": header})
    body = await resp.json()
    assert_401(resp.status, body, resp.headers, body["error"])
    assert body["error"].startswith("Malformed")


async def test_malformed_key(client: TestClient) -> None:
    resp = await client.get(REMAINING, headers={"Authorization": "Bearer not-a-bridge-key"})
    assert_401(resp.status, await resp.json(), resp.headers, "Malformed API key")


async def test_wrong_key(client: TestClient, db: Database) -> None:
    real = create_key(db, "acme")
    # Right id, wrong secret; and an id that does not exist.
    forged = real.key[:-4] + ("AAAA" if not real.key.endswith("AAAA") else "BBBB")
    for key in (forged, "brk_0123456789abcdef_" + "x" * 43):
        resp = await client.get(REMAINING, headers={"Authorization": f"Bearer {key}"})
        assert_401(resp.status, await resp.json(), resp.headers, "Invalid API key")


async def test_valid_key_gets_principal_and_headers(client: TestClient, db: Database) -> None:
    key = create_key(db, "acme")
    grant(db, key.tenant_id, 25)
    resp = await client.get(REMAINING, headers={"Authorization": f"Bearer {key.key}"})
    assert resp.status == 200
    body = await resp.json()
    assert body == {
        "success": True, "tenant_id": key.tenant_id, "remaining_credits": 25, "total_credits": 25
    }  # fmt: skip
    assert resp.headers["X-Credits-Remaining"] == "25"
    assert resp.headers["X-RateLimit-Limit"] == "10"  # credits area default
    assert resp.headers["X-RateLimit-Remaining"] == "9"
    assert int(resp.headers["X-RateLimit-Reset"]) >= 1


async def test_revoked_key_stops_within_cache_ttl(client: TestClient, db: Database) -> None:
    key = create_key(db, "acme")
    headers = {"Authorization": f"Bearer {key.key}"}
    client.app[VERIFIER].ttl = 0.3
    assert (await client.get(REMAINING, headers=headers)).status == 200
    assert revoke_key(db, key.key_id) is True
    await asyncio.sleep(0.35)
    resp = await client.get(REMAINING, headers=headers)
    assert_401(resp.status, await resp.json(), resp.headers, "API key revoked")


async def test_scoped_key_only_reaches_its_area(client: TestClient, db: Database) -> None:
    forms_key = create_key(db, "acme", scopes=["forms"])
    resp = await client.get(REMAINING, headers={"Authorization": f"Bearer {forms_key.key}"})
    assert resp.status == 403
    body = await resp.json()
    assert set(body) == ERROR_FIELDS and body["details"] == {"required_scope": "credits"}


async def test_allowed_origins(client: TestClient, db: Database) -> None:
    key = create_key(db, "acme", allowed_origins=["https://www.example.com/"])
    auth = {"Authorization": f"Bearer {key.key}"}
    ok = await client.get(REMAINING, headers={**auth, "Origin": "https://www.example.com"})
    assert ok.status == 200
    bad = await client.get(REMAINING, headers={**auth, "Origin": "https://evil.example"})
    assert bad.status == 403
    assert (await client.get(REMAINING, headers=auth)).status == 200  # server to server


async def test_public_routes_need_no_key(client: TestClient) -> None:
    for path in ("/healthz", "/openapi.json", "/docs", "/docs/static/swagger-ui.css"):
        assert (await client.get(path)).status == 200, path
    # Unknown paths answer 404 in the error shape rather than leaking through auth.
    resp = await client.get("/v1/nowhere")
    assert resp.status == 404 and set(await resp.json()) == ERROR_FIELDS
