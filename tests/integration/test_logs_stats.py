"""GET /v1/logs/stats: counts, pool distribution, rates and per-day totals in the tenant's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.app import create_app
from bridge.db import Database
from bridge.logs import retention
from bridge.logs.service import record_action
from bridge.tenants import service as tenants
from config.settings import Settings

DAY1 = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
A, B, C = "0055g00000AAAAA", "0055g00000BBBBB", "0055g00000CCCCC"


def seed(db: Database, tenant_id: int) -> None:
    with db.session() as s:

        def log(action: str, oid: str, when: datetime, **kw: Any) -> None:
            record_action(s, tenant_id=tenant_id, object=kw.pop("object", "Lead"), object_id=oid,
                          action=action, timestamp=when, **kw)  # fmt: skip

        for n, user in enumerate([A, A, A, B]):  # inbound: A 3, B 1
            log("assign", f"L{n}", DAY1, pool="inbound", assigned_to=user)
        log("assign", "L9", DAY1, pool="enterprise", assigned_to=C)
        log("convert", "L0", DAY1 + timedelta(hours=1))
        log("match", "L1", DAY1 + timedelta(hours=1))
        log("match", "L1", DAY1 + timedelta(hours=2))  # same record twice: counted once in rates
        log("enrich", "003A", DAY1, object="Contact")
        # 03:00 UTC on March 2 is still March 1 in New York.
        log("error", "L2", datetime(2025, 3, 2, 3, 0, tzinfo=UTC))
        log("assign", "L7", datetime(2025, 3, 2, 15, 0, tzinfo=UTC), pool="inbound", assigned_to=B)


@pytest.fixture
def settings_any(tmp_path: Path, redis_url: str, any_database_url: str) -> Settings:
    return Settings(environment="test", data_dir=tmp_path / "d", redis_url=redis_url,
                    database_url=any_database_url)  # fmt: skip


async def test_stats(aiohttp_client: Any, settings_any: Settings) -> None:
    db = Database.from_settings(settings_any)
    created = tenants.create_key(db, "acme")
    other = tenants.create_key(db, "globex")
    seed(db, created.tenant_id)
    seed(db, other.tenant_id)
    retention.set_policy(db, created.tenant_id, 365, timezone="America/New_York")
    db.dispose()
    client = await aiohttp_client(create_app(settings_any))
    headers = {"Authorization": f"Bearer {created.key}"}
    resp = await client.get(
        "/v1/logs/stats", params={"from": "2025-03-01", "to": "2025-03-02"}, headers=headers
    )
    data = await resp.json()
    assert resp.status == 200, data
    assert data["from"] == "2025-03-01T00:00:00Z" and data["timezone"] == "America/New_York"
    assert data["total"] == 11
    assert data["by_action"] == {"assign": 6, "match": 2, "convert": 1, "enrich": 1, "error": 1}
    assert data["by_object"] == {"Lead": 10, "Contact": 1}
    assert data["by_pool"] == {"inbound": 5, "enterprise": 1}
    assert data["by_user"] == {A: 3, B: 2, C: 1}
    assert data["assignments"] == [
        {"pool": "enterprise", "total": 1,
         "members": [{"assigned_to": C, "count": 1, "share": 1.0}]},
        {"pool": "inbound", "total": 5, "members": [
            {"assigned_to": A, "count": 3, "share": 0.6},
            {"assigned_to": B, "count": 2, "share": 0.4},
        ]},
    ]  # fmt: skip
    # Leads seen: L0, L1, L2, L3, L7, L9 -> 6; converted: L0.
    assert data["conversion_rate"] == {"numerator": 1, "denominator": 6, "rate": round(1 / 6, 6)}
    # Records seen: the six leads and one contact; matched: L1.
    assert data["match_rate"] == {"numerator": 1, "denominator": 7, "rate": round(1 / 7, 6)}
    days = {d["date"]: d for d in data["per_day"]}
    assert days["2025-03-01"]["total"] == 10 and days["2025-03-01"]["by_action"]["error"] == 1
    assert days["2025-03-02"] == {
        "date": "2025-03-02", "total": 1, "by_action": {"assign": 1}, "by_object": {"Lead": 1},
        "by_pool": {"inbound": 1}, "by_user": {B: 1},
    }  # fmt: skip
    # Per day as for the period: objects, pools (rows with one), users (assignments only).
    first = days["2025-03-01"]
    assert first["by_object"] == {"Contact": 1, "Lead": 9}
    assert first["by_pool"] == {"enterprise": 1, "inbound": 4}
    assert first["by_user"] == {A: 3, B: 1, C: 1}
    # Filters narrow every figure.
    resp = await client.get(
        "/v1/logs/stats",
        params={"from": "2025-03-01", "to": "2025-03-02", "pool": "inbound"}, headers=headers,
    )  # fmt: skip
    data = await resp.json()
    assert data["total"] == 5 and data["by_user"] == {A: 3, B: 2}
    bad = await client.get("/v1/logs/stats", params={"from": "2025-03-02"}, headers=headers)
    assert bad.status == 422


async def test_stats_rate_limit(aiohttp_client: Any, settings: Settings, db: Database) -> None:
    created = tenants.create_key(db, "acme")
    assert settings.rate_limit_stats_per_min == 20
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Bearer {created.key}"}
    params = {"from": "2025-03-01", "to": "2025-03-02"}
    statuses = [
        (await client.get("/v1/logs/stats", params=params, headers=headers)).status
        for _ in range(21)
    ]
    assert statuses == [200] * 20 + [429]
