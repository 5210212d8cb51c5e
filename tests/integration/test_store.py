"""The SQL store migrates and round-trips on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.db import Database
from bridge.logs.service import record_action
from bridge.logs.tables import RouteLog
from bridge.tenants.tables import Tenant
from config.logging import bind_request_id


def test_route_log_round_trip(any_database_url: str) -> None:
    db = Database(any_database_url)
    rid = bind_request_id("req-store-1")
    with db.session() as s:
        tenant = Tenant(name="acme")
        s.add(tenant)
        s.flush()
        record_action(
            s, tenant_id=tenant.id, object="Lead", object_id="00Q000000000001AAA",
            action="assign", pool="emea", assigned_to="005000000000001AAA", sequence=7,
            diff={"OwnerId": {"old": None, "new": "005000000000001AAA"}},
        )  # fmt: skip
    with db.session() as s:
        row = s.query(RouteLog).one()
    assert row.request_id == rid
    assert row.sequence == 7
    assert row.diff == {"OwnerId": {"old": None, "new": "005000000000001AAA"}}
    assert row.timestamp.tzinfo is not None
    assert abs((datetime.now(UTC) - row.timestamp).total_seconds()) < 60
    db.dispose()
