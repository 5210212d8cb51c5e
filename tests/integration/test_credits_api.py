"""GET /v1/credits/usage and /v1/credits/remaining exactly as documented, with every filter; the
rate-limit settings' bounds (0 turns a limit off, a negative value is refused)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from bridge.app import create_app
from bridge.credits import service, store
from bridge.db import Database
from bridge.tenants.service import create_key
from config.settings import Settings

USAGE = "/v1/credits/usage"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(
        create_app(settings.model_copy(update={"rate_limit_credits_per_min": 100}))
    )


@pytest.fixture
def tenant(db: Database) -> tuple[int, dict[str, str]]:
    key = create_key(db, "acme")
    other = create_key(db, "someone-else")
    rows = [  # (tenant, kind, amount, when, workflow, run, custom key, custom value)
        (key.tenant_id, "debit", 5, at(1), "wf-a", "run-1", "campaign", "spring"),
        (key.tenant_id, "debit", 3, at(2), "wf-a", "run-2", "campaign", "summer"),
        (key.tenant_id, "debit", 2, at(3), "wf-b", "run-3", None, None),
        (key.tenant_id, "refund", 3, at(2, 13), "wf-a", "run-2", "campaign", "summer"),
        (key.tenant_id, "grant", 100, at(1), None, None, None, None),
        (key.tenant_id, "debit", 11, at(20), "wf-a", "run-9", None, None),
        (other.tenant_id, "debit", 50, at(2), "wf-a", "run-1", None, None),
    ]
    with db.session() as session:
        for t, kind, amount, when, wf, run, ck, cv in rows:
            store.add_entry(session, tenant_id=t, kind=kind, amount=amount, endpoint="test",
                            tags=store.Tags(wf, run, ck, cv), created_at=when)  # fmt: skip
    return key.tenant_id, {"Authorization": f"Bearer {key.key}"}


@pytest.mark.parametrize(
    ("filters", "used"),
    [
        ({}, 7),  # 5 + 3 + 2 - 3 refunded; the other tenant and day 20 excluded
        ({"workflow_id": "wf-a"}, 5),
        ({"workflow_id": "wf-b"}, 2),
        ({"workflow_run_id": "run-1"}, 5),
        ({"custom_key": "campaign"}, 5),
        ({"custom_key": "campaign", "custom_value": "spring"}, 5),
        ({"custom_value": "summer"}, 0),
        ({"workflow_id": "nope"}, 0),
    ],
)
async def test_usage_filters(
    client: TestClient, tenant: tuple[int, dict[str, str]], filters: dict[str, str], used: int
) -> None:
    tenant_id, auth = tenant
    params = {"start_date": "2024-03-01T00:00:00Z", "end_date": "2024-03-10T23:59:59Z", **filters}
    resp = await client.get(USAGE, params=params, headers=auth)
    assert resp.status == 200
    assert await resp.json() == {
        "success": True,
        "tenant_id": tenant_id,
        "start_date": "2024-03-01T00:00:00Z",
        "end_date": "2024-03-10T23:59:59Z",
        "credits_used": used,
    }


async def test_usage_bare_dates_cover_whole_days(
    client: TestClient, tenant: tuple[int, dict[str, str]]
) -> None:
    _, auth = tenant
    resp = await client.get(
        USAGE, params={"start_date": "2024-03-03", "end_date": "2024-03-20"}, headers=auth
    )
    body = await resp.json()
    assert body["credits_used"] == 13  # day 3 (2) + day 20 at noon (11)
    assert body["start_date"] == "2024-03-03T00:00:00Z"


async def test_remaining_and_header_agree(
    client: TestClient, db: Database, tenant: tuple[int, dict[str, str]]
) -> None:
    tenant_id, auth = tenant
    service.grant(db, tenant_id, 40)
    service.debit(db, tenant_id, 15, "POST /v1/enrich/email")
    resp = await client.get("/v1/credits/remaining", headers=auth)
    assert await resp.json() == {
        "success": True, "tenant_id": tenant_id, "remaining_credits": 25, "total_credits": 40
    }  # fmt: skip
    assert resp.headers["X-Credits-Remaining"] == "25"
    # Every authenticated response carries it, errors included.
    bad = await client.get(USAGE, headers=auth)
    assert bad.status == 422 and bad.headers["X-Credits-Remaining"] == "25"


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2024-01-01", "end_date": "9999-12-31T23:00:00-05:00"},
        {"start_date": "2024-01-01", "end_date": "2024-02-30"},
        {"start_date": "2024-01-01", "end_date": "2024-02-01", "custom_key": "a\x00b"},
        {"start_date": "2024-01-01", "end_date": "2024-02-01", "workflow_id": "w" * 121},
    ],
)
async def test_hostile_queries_are_422_not_500(
    client: TestClient, tenant: tuple[int, dict[str, str]], params: dict[str, str]
) -> None:
    resp = await client.get(USAGE, params=params, headers=tenant[1])
    assert resp.status == 422, await resp.text()


async def test_repeated_parameter_is_422(
    client: TestClient, tenant: tuple[int, dict[str, str]]
) -> None:
    query = "start_date=2024-01-01&start_date=2024-01-02&end_date=2024-02-01"
    resp = await client.get(f"{USAGE}?{query}", headers=tenant[1])
    assert resp.status == 422


RATE_LIMITS = sorted(n for n in Settings.model_fields if n.startswith("rate_limit_"))


@pytest.mark.parametrize("name", RATE_LIMITS)
def test_a_negative_rate_limit_is_refused_at_start(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the bound, -1 silently meant "no limit" (the limiter skips limits <= 0).
    monkeypatch.setenv(f"BRIDGE_{name.upper()}", "-1")
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None)
    monkeypatch.setenv(f"BRIDGE_{name.upper()}", "0")
    assert getattr(Settings(_env_file=None), name) == 0


async def test_a_zero_rate_limit_turns_the_credits_limit_off(
    aiohttp_client: Any, settings: Settings, db: Database
) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_credits_per_min": 0}))
    client = await aiohttp_client(app)
    auth = {"Authorization": f"Bearer {create_key(db, 'unlimited').key}"}
    for _ in range(15):  # past the default of 10 per minute
        resp = await client.get("/v1/credits/remaining", headers=auth)
        assert resp.status == 200 and "X-RateLimit-Limit" not in resp.headers
