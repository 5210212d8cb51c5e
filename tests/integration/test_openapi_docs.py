"""/openapi.json is a valid OpenAPI 3.1 document of every registered endpoint; /docs renders."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web_urldispatcher import StaticResource
from openapi_spec_validator import validate

from bridge.app import create_app
from bridge.web.endpoints import ENDPOINTS
from config.settings import Settings


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


async def test_openapi_is_valid_and_complete(client: TestClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    validate(doc)  # raises on an invalid document
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"

    usage = doc["paths"]["/v1/credits/usage"]["get"]
    assert usage["x-rate-limit-area"] == "credits"
    params = {p["name"]: p for p in usage["parameters"]}
    assert set(params) == {
        "start_date", "end_date", "workflow_id", "workflow_run_id", "custom_key", "custom_value"
    }  # fmt: skip
    assert params["start_date"]["required"] and not params["workflow_id"]["required"]
    ok = usage["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreditUsageResponse"
    }
    assert {"X-RateLimit-Limit", "X-Credits-Remaining"} <= set(ok["headers"])
    for status in ("401", "422", "429", "500"):
        assert status in usage["responses"], status
    schemas = doc["components"]["schemas"]
    assert set(schemas["ErrorBody"]["properties"]) == {
        "error", "details", "request_id", "credits_required", "credits_remaining", "retry_after"
    }  # fmt: skip
    assert set(schemas["CreditUsageResponse"]["properties"]) == {
        "success", "tenant_id", "start_date", "end_date", "credits_used"
    }  # fmt: skip
    assert set(schemas["RemainingCreditsResponse"]["properties"]) == {
        "success", "tenant_id", "remaining_credits", "total_credits"
    }  # fmt: skip
    assert "422" not in doc["paths"]["/v1/credits/remaining"]["get"]["responses"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert "/openapi.json" not in doc["paths"] and "/docs" not in doc["paths"]


async def test_every_registered_route_is_documented(client: TestClient) -> None:
    doc = await (await client.get("/openapi.json")).json()
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    expected = set()
    for route in client.app.router.routes():
        if isinstance(route.resource, StaticResource):
            continue  # file trees under public prefixes (docs and dashboard assets)
        endpoint = client.app[ENDPOINTS].get(route)
        # Added past the endpoint table, a route would skip auth, rate limits and the document.
        assert endpoint is not None, f"{route.method} {route.resource} is not an Endpoint"
        if endpoint.in_schema:
            expected.add((endpoint.method, endpoint.openapi_path))
    assert len(expected) > 30  # every area, not only credits
    assert expected == documented


async def test_docs_page_and_local_assets(client: TestClient) -> None:
    page = await client.get("/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "/openapi.json" in html and "https://" not in html  # nothing from a CDN
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        resp = await client.get(f"/docs/static/{asset}")
        assert resp.status == 200, asset
        assert len(await resp.read()) > 10_000
