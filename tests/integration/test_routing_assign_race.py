"""Concurrent assigns of one record without an Idempotency-Key, against the sandbox, Redis
and SQL: one pick, one `assign` route log (one per pool sequence, on SQLite and PostgreSQL),
both callers get the same assignment, and exactly one of them (the one whose log was written)
answers `cached: false`, whichever logs first."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.db import Database
from bridge.db.migrate import upgrade
from bridge.logs.tables import RouteLog
from bridge.routing.outcomes import Pick
from bridge.routing.step import routing_service
from tests.conftest import (
    _create_postgres_database,
    _drop_postgres_database,
    _postgres_available,
)
from tests.integration.test_routing_fixtures import make_pool, make_tenant, two_active_users

BEFORE_0008 = "3c1e5b7a9d20"  # 0007_credit_leases


@pytest.mark.parametrize("logs_first", ["fresh", "replayed"])
def test_two_concurrent_assigns_of_one_lead_log_one_assign(
    sf_settings, gateway, client, db, sandbox, logs_first
) -> None:
    """Both requests pick (one fresh, its twin replays that pick) and both are about to log
    before either does; `logs_first` says whose log lands first. That one wrote the assignment
    and answers `cached: false` (the API charges it); the other answers `cached: true`."""
    tenant = make_tenant(db)
    a, b = two_active_users(sandbox, 4, 35)
    make_pool(db, tenant, "inbound", [{"user_id": a}, {"user_id": b}])
    lead = sandbox.create("Lead", {"LastName": "Race", "Company": "Race Co"})
    before = gateway.fetch("Lead", [lead], ["Id", "OwnerId"])[0]["OwnerId"]
    service = routing_service(db, client, gateway, sf_settings)
    real_record = service.record
    both_logging = threading.Barrier(2, timeout=30)
    picked: dict[str, str] = {}  # request id -> "fresh" or "replayed"

    def ordered_record(session: Any, tenant_id: int, sobject: str, pick: Pick, **kw: Any) -> None:
        kind = "replayed" if pick.cached else "fresh"
        picked[kw["request_id"]] = kind
        both_logging.wait()  # both are past their "already logged?" check
        if kind != logs_first:  # wait until the other's log is committed
            deadline = time.monotonic() + 30
            while not service.logged(tenant_id, sobject, pick.pool, [pick]):
                assert time.monotonic() < deadline, "the other request never logged"
                time.sleep(0.02)
        real_record(session, tenant_id, sobject, pick, **kw)

    service.record = ordered_record  # type: ignore[method-assign]
    real_owner = service.current_owner
    both_read = threading.Barrier(2, timeout=30)

    def owner_read_by_both(sobject: str, record_id: str) -> str | None:
        # The race at hand: both read the owner before either writes the new one (else the
        # later reader would log the new owner as prev_owner, a different story).
        owner = real_owner(sobject, record_id)
        both_read.wait()
        return owner

    service.current_owner = owner_read_by_both  # type: ignore[method-assign]
    start = threading.Barrier(2)

    def assign(request_id: str) -> Any:
        start.wait()
        return service.assign(tenant, "Lead", lead, "inbound", request_id=request_id)

    with ThreadPoolExecutor(2) as pool:
        answers = dict(zip(["r1", "r2"], pool.map(assign, ["r1", "r2"]), strict=True))
    assert sorted(picked.values()) == ["fresh", "replayed"]
    for done in answers.values():
        assert (done.assigned_to, done.sequence, done.prev_owner) == (a, 1, before)
    with db.session() as session:
        logs = list(session.query(RouteLog).filter(RouteLog.object_id == lead))
    assert [(e.action, e.assigned_to, e.sequence, e.prev_owner) for e in logs] == [
        ("assign", a, 1, before)
    ]
    writer = logs[0].request_id
    assert picked[writer] == logs_first
    assert {rid: done.cached for rid, done in answers.items()} == {
        rid: rid != writer for rid in answers
    }  # the writer is charged, the other one is not: never both, never neither
    assert gateway.fetch("Lead", [lead], ["Id", "OwnerId"])[0]["OwnerId"] == a
    again = service.assign(tenant, "Lead", lead, "inbound")  # a later retry replays it
    assert (again.assigned_to, again.sequence, again.cached) == (a, 1, True)


@pytest.fixture(params=["sqlite", "postgres"])
def url_at_0007(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A database migrated up to the revision before 0008."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
        upgrade(url, BEFORE_0008)
        yield url
        return
    if not _postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    url = _create_postgres_database()
    try:
        upgrade(url, BEFORE_0008)
        yield url
    finally:
        _drop_postgres_database(url)


def test_migration_0008_keeps_earlier_duplicates_as_skips_and_enforces_one_assign(
    url_at_0007: str,
) -> None:
    db = Database(url_at_0007)
    try:
        tenant = make_tenant(db)
        row = {"tenant_id": tenant, "object": "Lead", "pool": "inbound", "sequence": 7}
        with db.session() as session:  # what the race left behind before the fix
            session.add(RouteLog(object_id="a", action="assign", reason="round_robin", **row))
            session.add(RouteLog(object_id="a", action="assign", reason="round_robin", **row))
            session.add(RouteLog(object_id="b", action="skip", **row))
        upgrade(url_at_0007)
        with db.session() as session:
            logs = list(session.query(RouteLog).order_by(RouteLog.id))
        assert [e.action for e in logs] == ["assign", "skip", "skip"]
        assert logs[1].reason.startswith("duplicate assign log") and "round_robin" in (
            logs[1].reason)  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError), db.session() as session:
            session.add(RouteLog(object_id="c", action="assign", **row))
        with db.session() as session:  # other pools, sequences and actions are untouched
            session.add(RouteLog(object_id="c", action="assign", **{**row, "sequence": 8}))
            session.add(RouteLog(object_id="c", action="assign", **{**row, "pool": "other"}))
            session.add(RouteLog(object_id="c", action="skip", **row))
    finally:
        db.dispose()
