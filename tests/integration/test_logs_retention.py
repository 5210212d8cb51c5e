"""Route-log retention: exactly what is older than the tenant's period goes, in bounded chunks,
once per local day after 2 AM of the tenant's time zone; the API and CLI set the period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from bridge.app import create_app
from bridge.cli import main
from bridge.db import Database
from bridge.logs import retention
from bridge.logs.tables import RouteLog
from bridge.tenants import service as tenants
from config.settings import Settings, get_settings

NOW = datetime(2025, 6, 1, 18, 30, tzinfo=UTC)


def add(db: Database, tenant_id: int, when: datetime, tag: str) -> None:
    with db.session() as s:
        s.execute(
            insert(RouteLog),
            [{"tenant_id": tenant_id, "timestamp": when, "object": "Lead", "object_id": tag,
              "action": "assign"}],
        )  # fmt: skip


def remaining(db: Database, tenant_id: int) -> set[str]:
    with db.session() as s:
        query = select(RouteLog.object_id).where(RouteLog.tenant_id == tenant_id)
        return set(s.scalars(query))


@pytest.fixture
def sql(any_database_url: str) -> Iterator[Database]:
    db = Database(any_database_url)
    yield db
    db.dispose()


def test_deletes_exactly_what_is_older_than_the_period(sql: Database) -> None:
    acme = tenants.create_key(sql, "acme").tenant_id
    globex = tenants.create_key(sql, "globex").tenant_id
    retention.set_policy(sql, acme, 30)
    cutoff = NOW - timedelta(days=30)
    add(sql, acme, cutoff - timedelta(microseconds=1), "just-past")
    add(sql, acme, cutoff, "at-cutoff")  # exactly 30 days old: still within the period
    add(sql, acme, cutoff + timedelta(seconds=1), "just-inside")
    add(sql, acme, NOW - timedelta(days=400), "ancient")
    add(sql, acme, NOW, "today")
    with sql.session() as s:  # 250 more expired rows: three chunks of 100
        s.execute(
            insert(RouteLog),
            [{"tenant_id": acme, "timestamp": cutoff - timedelta(days=1, seconds=n),
              "object": "Lead", "object_id": f"old-{n}", "action": "enrich"} for n in range(250)],
        )  # fmt: skip
    # Another tenant keeps the default 365 days: its 100-day-old row stays.
    add(sql, globex, NOW - timedelta(days=100), "globex-100d")
    add(sql, globex, NOW - timedelta(days=366), "globex-366d")

    due = {t.tenant_id: t for t in retention.due_tenants(sql, NOW, cleanup_hour=2)}
    result = retention.cleanup(sql, due[acme], NOW, chunk_rows=100)
    assert result.rows_deleted == 252 and result.cutoff == cutoff
    assert remaining(sql, acme) == {"at-cutoff", "just-inside", "today"}
    retention.cleanup(sql, due[globex], NOW, chunk_rows=100)
    assert remaining(sql, globex) == {"globex-100d"}
    policy = retention.get_policy(sql, acme)
    assert policy.last_cleanup_rows == 252 and policy.last_cleanup_cutoff == cutoff


def test_due_once_per_local_day_after_two_am(sql: Database) -> None:
    tokyo = tenants.create_key(sql, "tokyo").tenant_id
    york = tenants.create_key(sql, "york").tenant_id
    retention.set_policy(sql, tokyo, 365, timezone="Asia/Tokyo")
    retention.set_policy(sql, york, 365, timezone="America/New_York")
    early = datetime(2025, 6, 1, 5, 30, tzinfo=UTC)  # Tokyo 14:30, New York 01:30
    assert [t.tenant_id for t in retention.due_tenants(sql, early, 2)] == [tokyo]
    retention.cleanup(sql, retention.due_tenants(sql, early, 2)[0], early, 100)
    later = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)  # Tokyo done today; New York now 02:00
    assert [t.tenant_id for t in retention.due_tenants(sql, later, 2)] == [york]
    next_day = datetime(2025, 6, 1, 17, 0, tzinfo=UTC)  # Tokyo 02:00 on June 2
    assert tokyo in [t.tenant_id for t in retention.due_tenants(sql, next_day, 2)]


def test_policy_validation(sql: Database) -> None:
    acme = tenants.create_key(sql, "acme").tenant_id
    assert retention.get_policy(sql, acme).retention_days == 365  # documented default
    for bad in (0, 1096, -5):
        with pytest.raises(ValueError):
            retention.set_policy(sql, acme, bad)
    with pytest.raises(ValueError):
        retention.set_policy(sql, acme, 90, timezone="Mars/Olympus")
    assert retention.set_policy(sql, acme, 1095).retention_days == 1095


async def test_retention_api(aiohttp_client: Any, settings: Settings, db: Database) -> None:
    created = tenants.create_key(db, "acme")
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Bearer {created.key}"}
    resp = await client.get("/v1/logs/retention", headers=headers)
    body = await resp.json()
    assert resp.status == 200 and body["retention_days"] == 365 and body["cleanup_hour"] == 2
    for bad in ({"retention_days": 0}, {"retention_days": 1096}, {"retention_days": "x"},
                {"retention_days": 30, "timezone": "Nowhere/Land"}, {"days": 30}):  # fmt: skip
        resp = await client.put("/v1/logs/retention", json=bad, headers=headers)
        assert resp.status == 422, bad
    resp = await client.put(
        "/v1/logs/retention", json={"retention_days": 90, "timezone": "Europe/Berlin"},
        headers=headers,
    )  # fmt: skip
    body = await resp.json()
    assert resp.status == 200 and body["retention_days"] == 90
    assert body["timezone"] == "Europe/Berlin"
    assert retention.get_policy(db, created.tenant_id).retention_days == 90


async def test_retention_calls_spend_the_stats_budget_not_the_exports(
    aiohttp_client: Any, settings: Settings, db: Database
) -> None:
    tight = settings.model_copy(
        update={"rate_limit_logs_per_min": 1, "rate_limit_stats_per_min": 3}
    )
    created = tenants.create_key(db, "acme", scopes=["logs"])
    client = await aiohttp_client(create_app(tight))
    headers = {"Authorization": f"Bearer {created.key}"}
    assert (await client.get("/v1/logs/retention", headers=headers)).status == 200
    resp = await client.put("/v1/logs/retention", json={"retention_days": 90}, headers=headers)
    assert resp.status == 200
    export = {"from": "2025-03-01", "to": "2025-03-02"}
    assert (await client.get("/v1/logs/routing", params=export, headers=headers)).status == 200
    assert (await client.get("/v1/logs/retention", headers=headers)).status == 200
    assert (await client.get("/v1/logs/retention", headers=headers)).status == 429  # 4th of 3
    # The scope stays `logs`: a key scoped to statistics alone may not touch retention.
    stats_only = tenants.create_key(db, "acme", scopes=["stats"]).key
    resp = await client.get("/v1/logs/retention", headers={"Authorization": f"Bearer {stats_only}"})
    assert resp.status == 403


def test_cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        db = Database(database_url)
        acme = tenants.create_key(db, "acme").tenant_id
        add(db, acme, datetime.now(UTC) - timedelta(days=45), "old")
        add(db, acme, datetime.now(UTC) - timedelta(days=5), "new")
        runner = CliRunner()
        out = runner.invoke(main, ["logs", "retention", "--tenant", "acme", "30"])
        assert out.exit_code == 0, out.output
        assert "kept 30 days" in out.output
        assert runner.invoke(main, ["logs", "retention", "--tenant", "acme", "2000"]).exit_code
        assert runner.invoke(main, ["logs", "retention", "--tenant", "nobody", "30"]).exit_code
        out = runner.invoke(main, ["logs", "cleanup", "--tenant", "acme"])
        assert out.exit_code == 0 and "deleted 1 rows" in out.output, out.output
        assert remaining(db, acme) == {"new"}
        db.dispose()
    finally:
        get_settings.cache_clear()
