"""POST /v1/routing/assign and /v1/routing/pools through the real app, Redis, SQL and the
sandbox over HTTPS: owners really change in Salesforce, every assignment has a route log."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.routing.api import ROUTING
from bridge.salesforce.gateway import SalesforceGateway
from bridge.salesforce.ids import to_18
from bridge.tenants import service as tenants
from bridge.web.appkeys import DB as DB_KEY
from config.settings import Settings
from tests.conftest import with_sandbox

DOCUMENTED = {
    "success", "assigned_to", "sequence", "pool_size", "timestamp", "credits_consumed",
    "credits_remaining", "processing_time_ms", "cached",
}  # fmt: skip


@pytest.fixture
def sf_settings(settings: Settings, sandbox: Any) -> Settings:
    return with_sandbox(settings, sandbox, rate_limit_sync_per_min=100_000, routing_pools_file=None)


@pytest.fixture
def users(sandbox: Any) -> dict[str, list[str]]:
    """Seeded users (about 15 % inactive), split by state; the integration user left out."""
    sandbox.seed(users=20, seed=11)
    rows = sandbox.salesforce().query_all("SELECT Id, IsActive FROM User")["records"]
    people = [r for r in rows if r["Id"] != sandbox.integration_user_id]
    active = [r["Id"] for r in people if r["IsActive"]]
    inactive = [r["Id"] for r in people if not r["IsActive"]]
    assert len(active) >= 3 and inactive, "the seed gives active and inactive users"
    return {"active": active, "inactive": inactive}


@pytest.fixture
async def client(aiohttp_client: Any, sf_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(sf_settings))


@pytest.fixture
def tenant(db: Database) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, 1000)
    return {"key": created.key, "tenant_id": created.tenant_id}


def auth(tenant: dict[str, Any], **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant['key']}", **headers}


def leads(gateway: SalesforceGateway, n: int) -> list[str]:
    results = gateway.create(
        "Lead", [{"LastName": f"Lead {i}", "Company": f"Co {i}"} for i in range(n)]
    )
    assert all(r.success for r in results)
    return [r.id for r in results]


def owners(gateway: SalesforceGateway, ids: list[str]) -> dict[str, str]:
    return {r["Id"]: r["OwnerId"] for r in gateway.fetch("Lead", ids, ["Id", "OwnerId"])}


async def make_pool(client: TestClient, tenant: dict[str, Any], name: str,
                    members: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:  # fmt: skip
    resp = await client.post(
        "/v1/routing/pools", json={"name": name, "members": members, **extra}, headers=auth(tenant)
    )
    data = await resp.json()
    assert resp.status == 201, data
    return data


def assign_body(sf_id: str, pool: str = "inbound", **extra: Any) -> dict[str, Any]:
    return {"object": "lead", "sf_id": sf_id, "pool": pool, **extra}


def route_logs(db: Database, **filters: Any) -> list[RouteLog]:
    with db.session() as session:
        return list(session.query(RouteLog).filter_by(**filters).order_by(RouteLog.id))


async def test_assign_writes_owner_logs_and_replays(client, tenant, gateway, users, db,
                                                    sandbox) -> None:  # fmt: skip
    a, b = users["active"][:2]
    await make_pool(client, tenant, "inbound", [{"user_id": a, "weight": 2}, {"user_id": b}])
    [lead] = leads(gateway, 1)
    resp = await client.post("/v1/routing/assign", json=assign_body(lead), headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200, data
    assert set(data) == DOCUMENTED
    assert data["success"] is True and data["assigned_to"] == a and data["sequence"] == 1
    assert data["pool_size"] == 2 and data["cached"] is False
    assert data["credits_consumed"] == 1 and data["credits_remaining"] == 999
    assert resp.headers["X-Credits-Remaining"] == "999"
    assert owners(gateway, [lead]) == {lead: a}  # really changed in Salesforce
    [entry] = route_logs(db, object_id=lead)
    assert (entry.action, entry.pool, entry.assigned_to, entry.sequence) == (
        "assign",
        "inbound",
        a,
        1,
    )
    assert entry.prev_owner == sandbox.integration_user_id and entry.object == "Lead"
    assert entry.reason == "round_robin" and entry.request_id == resp.headers["X-Request-ID"]
    # A retry (15-character id this time) returns the original without advancing or charging.
    again = await client.post(
        "/v1/routing/assign", json=assign_body(lead[:15]), headers=auth(tenant)
    )
    replay = await again.json()
    assert (replay["assigned_to"], replay["sequence"], replay["cached"]) == (a, 1, True)
    assert replay["credits_consumed"] == 0 and replay["credits_remaining"] == 999
    assert len(route_logs(db, object_id=lead)) == 1
    # Reset rules cost one more credit and are recorded.
    [other] = leads(gateway, 1)
    body = assign_body(other, reset_rules={"reason": "bad_fit", "place_user_at_top": b})
    resp = await client.post("/v1/routing/assign", json=body, headers=auth(tenant))
    data = await resp.json()
    assert (data["assigned_to"], data["sequence"], data["credits_consumed"]) == (b, 2, 2)
    assert "bad_fit" in route_logs(db, object_id=other)[0].reason
    assert owners(gateway, [other]) == {other: b}


async def test_100_concurrent_assigns(client, tenant, gateway, users, db) -> None:
    a, b = users["active"][:2]
    inactive = users["inactive"][0]
    await make_pool(client, tenant, "inbound", [
        {"user_id": a, "weight": 3}, {"user_id": inactive, "weight": 5}, {"user_id": b},
    ])  # fmt: skip
    ids = leads(gateway, 100)
    responses = await asyncio.gather(
        *(client.post("/v1/routing/assign", json=assign_body(i), headers=auth(tenant)) for i in ids)
    )
    bodies = [await r.json() for r in responses]
    assert [r.status for r in responses] == [200] * 100, bodies[:3]
    assert sorted(b_["sequence"] for b_ in bodies) == list(range(1, 101))
    assert Counter(b_["assigned_to"] for b_ in bodies) == {a: 75, b: 25}  # inactive never
    assert owners(gateway, ids) == {
        i: body["assigned_to"] for i, body in zip(ids, bodies, strict=True)
    }
    assert len(route_logs(db, pool="inbound", action="assign")) == 100


async def test_owner_refused_as_inactive_is_repicked(client, tenant, gateway, users, db,
                                                     sandbox) -> None:  # fmt: skip
    handle = uuid.uuid4().hex[:8]
    leaving = sandbox.create("User", {
        "Username": f"{handle}@sandbox.bridge.local", "LastName": "Leaving", "Alias": handle,
        "Email": f"{handle}@example.com", "IsActive": True,
    })  # fmt: skip
    stays = users["active"][0]
    await make_pool(client, tenant, "inbound", [{"user_id": leaving}, {"user_id": stays}])
    first, second, third = leads(gateway, 3)
    resp = await client.post("/v1/routing/assign", json=assign_body(first), headers=auth(tenant))
    assert (await resp.json())["assigned_to"] == leaving  # the active-users list is now cached
    sandbox.update("User", leaving, {"IsActive": False}, system=True)
    for lead in (second, third):  # `leaving`'s turn comes with `third`: Salesforce refuses it
        resp = await client.post("/v1/routing/assign", json=assign_body(lead), headers=auth(tenant))
        data = await resp.json()
        assert resp.status == 200 and data["assigned_to"] == stays, data
    assert owners(gateway, [second, third]) == {second: stays, third: stays}
    [skip] = route_logs(db, object_id=third, action="skip")
    assert skip.assigned_to == leaving and "INACTIVE_OWNER_OR_USER" in skip.reason
    # The refusal refreshed the cache: `leaving` is skipped up front from now on.
    [fourth] = leads(gateway, 1)
    resp = await client.post("/v1/routing/assign", json=assign_body(fourth), headers=auth(tenant))
    assert (await resp.json())["assigned_to"] == stays
    assert not route_logs(db, object_id=fourth, action="skip")


async def test_nobody_available_is_409_with_reason_and_no_charge(client, tenant, gateway,
                                                                  users) -> None:  # fmt: skip
    a = users["active"][0]
    await make_pool(client, tenant, "inbound", [
        {"user_id": users["inactive"][0]},
        {"user_id": a, "out_of_office": [
            {"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}]},
    ])  # fmt: skip
    await make_pool(client, tenant, "paused", [{"user_id": a}], paused=True)
    [lead] = leads(gateway, 1)
    resp = await client.post("/v1/routing/assign", json=assign_body(lead), headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 409, data
    assert data["error"] == "No member of the pool is available"
    assert data["details"] == {
        "pool": "inbound", "reason": "nobody", "skipped": {"inactive": 1, "out_of_office": 1},
    }  # fmt: skip
    resp = await client.post(
        "/v1/routing/assign", json=assign_body(lead, "paused"), headers=auth(tenant)
    )
    assert resp.status == 409 and (await resp.json())["details"]["reason"] == "paused"
    assert resp.headers["X-Credits-Remaining"] == "1000"
    assert owners(gateway, [lead]) != {lead: a}


async def test_an_assign_log_refused_for_another_reason_is_409_and_free(
    client, tenant, gateway, users, db
) -> None:
    """The route-log insert refused, but not because a concurrent request logged this record's
    pick: a documented 409 with the reason, refunded, never a 500."""
    a, b = users["active"][:2]
    await make_pool(client, tenant, "inbound", [{"user_id": a}, {"user_id": b}])
    first, second, third = leads(gateway, 3)
    resp = await client.post("/v1/routing/assign", json=assign_body(first), headers=auth(tenant))
    assert resp.status == 200 and (await resp.json())["sequence"] == 1
    # Sequence 2 is already logged for another record (rotation state restored behind the logs).
    other = to_18("00Q000000000777")
    with db.session() as session:
        row = {"object": "Lead", "object_id": other, "pool": "inbound", "assigned_to": b}
        session.add(RouteLog(tenant_id=tenant["tenant_id"], action="assign", sequence=2, **row))
    resp = await client.post("/v1/routing/assign", json=assign_body(second), headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 409, data
    assert data["error"] == "The pool's sequence number is already logged for another record"
    assert data["details"] == {"pool": "inbound", "sequence": 2, "reason": "sequence_taken"}
    assert data["request_id"] == resp.headers["X-Request-ID"]
    assert credits.remaining(db, tenant["tenant_id"]) == 999  # refunded
    assert [e.object_id for e in route_logs(db, pool="inbound", sequence=2)] == [other]
    # Another constraint refuses the log's transaction (a row of a tenant that does not exist).
    service = client.app[ROUTING]
    real_record = service.record

    def record_and_break(session: Any, *args: Any, **kw: Any) -> None:
        real_record(session, *args, **kw)
        session.add(RouteLog(tenant_id=987654, object="Lead", object_id=other, action="skip"))

    service.record = record_and_break
    resp = await client.post("/v1/routing/assign", json=assign_body(third), headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 409, data
    assert data["details"] == {"pool": "inbound", "sequence": 3, "reason": "log_refused"}
    assert credits.remaining(db, tenant["tenant_id"]) == 999
    assert route_logs(db, object_id=third) == []


async def test_bad_requests(client, tenant, gateway, users) -> None:
    a = users["active"][0]
    await make_pool(client, tenant, "inbound", [{"user_id": a}])
    [lead] = leads(gateway, 1)
    cases = [
        (assign_body(lead.replace("00Q", "001", 1)), 422),  # not a lead id
        ({**assign_body(lead), "object": "account"}, 422),  # a lead id for an account
        (assign_body("00Qnot-an-id"), 422),
        ({**assign_body(lead), "object": "case"}, 422),
        (assign_body(lead, "no-such-pool"), 404),
        (assign_body(to_18("00Q000000000999")), 404),  # valid id, no such record
        (assign_body(lead, reset_rules={"reason": "x", "place_user_at_top": to_18(
            "005000000000999")}), 422),  # not a member
        (assign_body(lead, reset_rules={"place_user_at_top": a}), 422),  # reason required
    ]  # fmt: skip
    for body, status in cases:
        resp = await client.post("/v1/routing/assign", json=body, headers=auth(tenant))
        assert resp.status == status, (body, await resp.text())
    assert (await client.get("/v1/credits/remaining", headers=auth(tenant))).headers[
        "X-Credits-Remaining"
    ] == "1000"


async def test_idempotency_key_replays_and_refuses_other_bodies(client, tenant, gateway,
                                                                users) -> None:  # fmt: skip
    await make_pool(client, tenant, "inbound", [{"user_id": u} for u in users["active"][:3]])
    first, second = leads(gateway, 2)
    headers = auth(tenant, **{"Idempotency-Key": '"order-42"'})
    resp = await client.post("/v1/routing/assign", json=assign_body(first), headers=headers)
    original = await resp.read()
    assert resp.status == 200 and "Idempotent-Replayed" not in resp.headers
    again = await client.post("/v1/routing/assign", json=assign_body(first), headers=headers)
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.read() == original  # the stored response, byte for byte
    other = await client.post("/v1/routing/assign", json=assign_body(second), headers=headers)
    assert other.status == 422
    assert (await other.json())["detail"][0]["type"] == "idempotency_key_reused"
    # Another tenant's identical key is its own.
    stranger = tenants.create_key(client.app[DB_KEY], "globex")
    credits.grant(client.app[DB_KEY], stranger.tenant_id, 10)
    resp = await client.post(
        "/v1/routing/assign",
        json=assign_body(second),
        headers={"Authorization": f"Bearer {stranger.key}", "Idempotency-Key": "order-42"},
    )
    assert resp.status == 404  # globex has no pool "inbound": the key did not replay acme's
    bad = await client.post(
        "/v1/routing/assign", json=assign_body(second), headers=auth(tenant, **{
            "Idempotency-Key": "x" * 300})
    )  # fmt: skip
    assert bad.status == 400


async def test_pool_management(client, tenant, users) -> None:
    a, b = users["active"][:2]
    created = await make_pool(
        client, tenant, "east", [{"user_id": a, "weight": 1.5, "caps": {"day": 10}}],
        time_zone="America/New_York",
    )  # fmt: skip
    assert created["members"][0]["weight"] == 1.5
    assert created["sequence"] == 0 and created["time_zone"] == "America/New_York"
    dup = await client.post(
        "/v1/routing/pools", json={"name": "east", "members": []}, headers=auth(tenant)
    )
    assert dup.status == 409
    put = await client.put("/v1/routing/pools/east", headers=auth(tenant), json={
        "members": [{"user_id": b, "working_hours": {"mon": ["22:00-06:00"]}}], "paused": True,
    })  # fmt: skip
    data = await put.json()
    assert put.status == 200 and data["paused"] is True and data["members"][0]["user_id"] == b
    assert (await client.put("/v1/routing/pools/west", json={}, headers=auth(tenant))).status == 201
    listed = await (await client.get("/v1/routing/pools", headers=auth(tenant))).json()
    assert [p["name"] for p in listed["pools"]] == ["east", "west"]
    one = await client.get("/v1/routing/pools/east", headers=auth(tenant))
    assert (await one.json())["members"][0]["working_hours"] == {"mon": ["22:00-06:00"]}
    invalid = [
        {"name": "x", "members": [{"user_id": "00Q000000000001"}]},
        {"name": "x", "members": [{"user_id": a}, {"user_id": a}]},
        {"name": "x", "members": [{"user_id": a, "weight": 0}]},
        {"name": "x", "members": [{"user_id": a, "weight": 0.125}]},
        {"name": "x", "time_zone": "Mars/Olympus"},
        {"name": "x", "members": [{"user_id": a, "working_hours": {"mon": ["9-5"]}}]},
        {"name": "x", "members": [{"user_id": a, "out_of_office": [
            {"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}]}]},
        {"name": "bad name!"},
    ]  # fmt: skip
    for body in invalid:
        resp = await client.post("/v1/routing/pools", json=body, headers=auth(tenant))
        assert resp.status == 422, body
    assert (await client.delete("/v1/routing/pools/east", headers=auth(tenant))).status == 204
    assert (await client.get("/v1/routing/pools/east", headers=auth(tenant))).status == 404
    assert (await client.delete("/v1/routing/pools/east", headers=auth(tenant))).status == 404


async def test_pools_seed_file(aiohttp_client, sf_settings, tenant, users, tmp_path) -> None:
    a = users["active"][0]
    path = tmp_path / "pools.yaml"
    path.write_text(
        f"pools:\n  - tenant: acme\n    name: seeded\n    members:\n"
        f"      - {{user_id: {a}, weight: 2, caps: {{hour: 5}}}}\n"
    )
    settings = sf_settings.model_copy(update={"routing_pools_file": path})
    client = await aiohttp_client(create_app(settings))
    data = await (await client.get("/v1/routing/pools/seeded", headers=auth(tenant))).json()
    assert data["members"][0]["user_id"] == a and data["members"][0]["caps"]["hour"] == 5
    # After start-up the API owns the pool: a restart does not undo an edit.
    await client.put("/v1/routing/pools/seeded", json={"paused": True}, headers=auth(tenant))
    again = await aiohttp_client(create_app(settings))
    data = await (await again.get("/v1/routing/pools/seeded", headers=auth(tenant))).json()
    assert data["paused"] is True and data["members"] == []
