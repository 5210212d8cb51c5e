"""The pipeline's assign step against the sandbox: one collections call per 200 records, a
route log per record, records nobody can take left alone with a `skip` log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.pipeline import Pipeline
from bridge.routing.outcomes import Pick
from bridge.routing.step import AssignStep, routing_service
from bridge.salesforce.gateway import SalesforceGateway
from bridge.triggers.dispatcher import Batch, BatchItem
from tests.integration.test_routing_fixtures import make_pool, make_tenant, two_active_users


def batch(tenant_id: int, ids: list[str]) -> Batch:
    return Batch(
        tenant_id, "Lead", [BatchItem(i, f"req-{i[-6:]}", "poll", "after_insert") for i in ids]
    )


def create_leads(gateway: SalesforceGateway, n: int) -> list[str]:
    results = gateway.create("Lead", [{"LastName": f"P{i}", "Company": "Co"} for i in range(n)])
    return [r.id for r in results]


def logs(db: Database, ids: list[str]) -> list[RouteLog]:
    with db.session() as session:
        return list(session.query(RouteLog).filter(RouteLog.object_id.in_(ids)))


def test_assign_step_batches_owner_writes(db, client, gateway, sf_settings, sandbox) -> None:
    a, b = two_active_users(sandbox, 6, 5)
    tenant = make_tenant(db)
    make_pool(db, tenant, "inbound", [{"user_id": a, "weight": 3}, {"user_id": b}])
    step = AssignStep(
        routing_service(db, client, gateway, sf_settings),
        {"Lead": "inbound"},
        route_owned_by={gateway.integration_user_id},
    )
    # Routed by the pipeline itself: the integration user created them (loop guard off here).
    pipeline = Pipeline(gateway, client, integration_user_id=None, steps={"Lead": [step]})
    ids = create_leads(gateway, 250)
    mine = sandbox.create("Lead", {"LastName": "Hand", "Company": "Co"}, as_user=b)
    before = gateway.calls_by_operation.get("update", 0)
    pipeline.process(batch(tenant, ids[:200]))
    pipeline.process(batch(tenant, [*ids[200:], mine]))
    assert gateway.calls_by_operation.get("update", 0) - before == 2  # one per 200
    current = {
        r["Id"]: r["OwnerId"] for r in gateway.fetch("Lead", [*ids, mine], ["Id", "OwnerId"])
    }
    assert Counter(current[i] for i in ids) == {a: 188, b: 62}  # 3:1, rotation A A B A
    assert current[mine] == b  # owned by a person: not routed
    entries = logs(db, [*ids, mine])
    assert len(entries) == 250 and {e.action for e in entries} == {"assign"}
    assert sorted(e.sequence for e in entries) == list(range(1, 251))
    assert all(e.assigned_to == current[e.object_id] for e in entries)
    assert {e.request_id for e in entries if e.object_id == ids[0]} == {f"req-{ids[0][-6:]}"}


def test_nobody_available_leaves_records_with_a_skip_log(db, client, gateway, sf_settings,
                                                         sandbox) -> None:  # fmt: skip
    sandbox.seed(users=3, seed=9)
    rows = sandbox.salesforce().query_all("SELECT Id FROM User WHERE IsActive = true")["records"]
    a = next(r["Id"] for r in rows if r["Id"] != sandbox.integration_user_id)
    tenant = make_tenant(db)
    away = [{"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}]
    make_pool(db, tenant, "inbound", [{"user_id": a, "out_of_office": away}])
    service = routing_service(db, client, gateway, sf_settings)
    pipeline = Pipeline(gateway, client, integration_user_id=None,
                        steps={"Lead": [AssignStep(service, {"Lead": "inbound"})]})  # fmt: skip
    ids = create_leads(gateway, 5)
    before = gateway.calls_by_operation.get("update", 0)
    pipeline.process(batch(tenant, ids))
    assert gateway.calls_by_operation.get("update", 0) == before  # nothing guessed
    current = {r["OwnerId"] for r in gateway.fetch("Lead", ids, ["OwnerId"])}
    assert current == {gateway.integration_user_id}
    entries = logs(db, ids)
    assert len(entries) == 5 and {e.action for e in entries} == {"skip"}
    assert all("out_of_office" in e.reason and e.assigned_to is None for e in entries)


def test_a_record_logged_concurrently_does_not_roll_back_the_batch_logs(
    db, client, gateway, sf_settings, sandbox
) -> None:
    a, b = two_active_users(sandbox, 4, 11)
    tenant = make_tenant(db)
    make_pool(db, tenant, "inbound", [{"user_id": a}, {"user_id": b}])
    service = routing_service(db, client, gateway, sf_settings)
    ids = create_leads(gateway, 3)
    real_write = service.write_owners
    twin: list[Pick] = []

    def write_then_twin_logs(sobject: str, picks: Sequence[Pick]) -> Any:
        # After logged() ran: a concurrent /v1/routing/assign of ids[1] replays its pick and
        # logs it first (the one-assign-per-sequence index will refuse the batch's row).
        pick = next(p for p in picks if p.record_id == ids[1])
        with db.session() as session:
            service.record(session, tenant, sobject, pick, prev_owner=None, reason="twin")
        twin.append(pick)
        return real_write(sobject, picks)

    service.write_owners = write_then_twin_logs  # type: ignore[method-assign]
    records = gateway.fetch("Lead", ids, ["Id", "OwnerId"])
    outcome = service.assign_records(tenant, "Lead", records, "inbound")
    assert sorted(x.record_id for x in outcome.assigned) == sorted([ids[0], ids[2]])
    assert [(x.record_id, x.sequence, x.cached) for x in outcome.cached] == [
        (ids[1], twin[0].sequence, True)
    ]
    entries = sorted(logs(db, ids), key=lambda e: e.sequence)
    assert [(e.object_id, e.action, e.sequence) for e in entries] == [
        (ids[0], "assign", 1), (ids[1], "assign", 2), (ids[2], "assign", 3)
    ]  # fmt: skip
    assert [e.reason for e in entries] == ["round_robin", "twin", "round_robin"]


def test_a_sequence_logged_for_another_record_fails_only_that_record(
    db, client, gateway, sf_settings, sandbox
) -> None:
    """Rotation state behind the logs: the batch's pick reuses a sequence another record holds.
    That record fails with the reason (its owner is written, its log is not), the others are
    assigned and logged, nothing passes it off as a concurrent twin's assignment."""
    a, b = two_active_users(sandbox, 4, 12)
    tenant = make_tenant(db)
    make_pool(db, tenant, "inbound", [{"user_id": a}, {"user_id": b}])
    service = routing_service(db, client, gateway, sf_settings)
    ids = create_leads(gateway, 4)
    real_write = service.write_owners

    def write_then_other_record_takes_the_sequence(sobject: str, picks: Sequence[Pick]) -> Any:
        pick = next(p for p in picks if p.record_id == ids[1])
        with db.session() as session:
            service.record(session, tenant, sobject, replace(pick, record_id=ids[3]),
                           prev_owner=None, reason="restored")  # fmt: skip
        return real_write(sobject, picks)

    service.write_owners = write_then_other_record_takes_the_sequence  # type: ignore[method-assign]
    records = gateway.fetch("Lead", ids[:3], ["Id", "OwnerId"])
    outcome = service.assign_records(tenant, "Lead", records, "inbound")
    assert sorted(x.record_id for x in outcome.assigned) == sorted([ids[0], ids[2]])
    assert outcome.cached == []
    assert outcome.failed == {ids[1]: "route log refused (sequence_taken)"}
    assert sorted((e.object_id, e.action) for e in logs(db, ids)) == sorted(
        [(ids[0], "assign"), (ids[2], "assign"), (ids[3], "assign")]
    )
