"""POST /v1/salesforce/convert through the real app, SQL, Redis and the sandbox over HTTPS:
leads convert into matching records (never beside them), route logs keep every diff."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.conversion.api import CONVERSION
from bridge.conversion.diff import ACCOUNT_FIELDS, CONTACT_FIELDS
from bridge.credits import service as credits
from bridge.credits.tables import CreditEntry
from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.routing.api import ROUTING
from bridge.salesforce.gateway import SalesforceGateway
from bridge.salesforce.ids import to_18
from bridge.tenants import service as tenants
from config.settings import Settings
from tests.conftest import with_sandbox
from tests.integration.test_routing_fixtures import two_active_users

DOCUMENTED = {
    "success", "status", "account_id", "contact_id", "owner_id", "actions", "credits_consumed",
    "credits_remaining", "processing_time_ms", "cached",
}  # fmt: skip
MISSING = to_18("00Q000000000001")
MATCH_POLICY = {
    "contact": {"by": ["email:eq", "name_company:fuzzy0.8"], "create_if_no_match": True},
    "account": {"by": ["domain:eq", "name:fuzzy0.8"], "create_if_no_match": True},
}


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def sf_settings(settings: Settings, sandbox: Any) -> Settings:
    return with_sandbox(settings, sandbox, rate_limit_sync_per_min=100_000, routing_pools_file=None)


@pytest.fixture
async def client(aiohttp_client: Any, sf_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(sf_settings))


@pytest.fixture
def tenant(db: Database, sandbox: Any) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", sandbox.org_id)
    credits.grant(db, created.tenant_id, 1000)
    return {"key": created.key, "tenant_id": created.tenant_id}


@pytest.fixture
def seeded(sandbox: Any, tag: str) -> dict[str, str]:
    """An account and its contact, then a near-duplicate lead (typo'd company, same email)."""
    account = sandbox.create(
        "Account",
        {"Name": f"Zentrix{tag} Holdings Inc.", "Website": f"https://www.zentrix{tag}.com"},
    )
    contact = sandbox.create(
        "Contact",
        {
            "FirstName": "Maria",
            "LastName": f"Lopez{tag}",
            "Email": f"maria.lopez@zentrix{tag}.com",
            "AccountId": account,
        },
    )
    lead = sandbox.create("Lead", {"FirstName": "Maria", "LastName": f"Lopez{tag}",
                                   "Company": f"Zentrix{tag} Holdngs",
                                   "Email": f"Maria.Lopez@zentrix{tag}.com", "Title": "CTO",
                                   "City": "Austin"})  # fmt: skip
    return {"account": account, "contact": contact, "lead": lead}


def auth(tenant: dict[str, Any], **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant['key']}", **headers}


def ids(sandbox: Any, sobject: str) -> set[str]:
    rows = sandbox.salesforce().query_all(f"SELECT Id FROM {sobject}")["records"]  # noqa: S608
    return {r["Id"] for r in rows}


def lead_state(gateway: SalesforceGateway, lead: str) -> dict[str, Any]:
    fields = ["Id", "IsConverted", "ConvertedAccountId", "ConvertedContactId", "OwnerId"]
    return gateway.fetch("Lead", [lead], fields)[0]


def logs(db: Database, tenant_id: int) -> list[RouteLog]:
    with db.session() as session:
        query = session.query(RouteLog).filter(RouteLog.tenant_id == tenant_id)
        return list(query.order_by(RouteLog.id))


def ledger(db: Database, tenant_id: int) -> list[tuple[str, int, str]]:
    with db.session() as session:
        query = session.query(CreditEntry).filter(CreditEntry.tenant_id == tenant_id)
        return [(e.kind, e.amount, e.endpoint) for e in query.order_by(CreditEntry.id)]


async def convert(client: TestClient, tenant: dict[str, Any], body: dict[str, Any],
                  **headers: str) -> tuple[int, Any, Any]:  # fmt: skip
    resp = await client.post("/v1/salesforce/convert", json=body, headers=auth(tenant, **headers))
    return resp.status, await resp.json(), resp.headers


async def test_converts_into_the_matching_account_and_contact(
    client, tenant, seeded, sandbox, gateway, db, tag
) -> None:
    # Decoys: an account with the same name but another domain, and a contact with the same
    # name at another company. Neither may be converted into.
    decoy_account = sandbox.create(
        "Account", {"Name": f"Zentrix{tag} Holdings Inc.", "Website": f"https://zentrix{tag}.net"}
    )
    elsewhere = sandbox.create(
        "Account", {"Name": f"Quantel{tag} AG", "Website": f"https://quantel{tag}.de"}
    )
    decoy_contact = sandbox.create(
        "Contact",
        {"FirstName": "Maria", "LastName": f"Lopez{tag}", "Email": f"m.lopez@quantel{tag}.de",
         "AccountId": elsewhere},
    )  # fmt: skip
    decoys_before = (
        gateway.fetch("Account", [decoy_account], ACCOUNT_FIELDS),
        gateway.fetch("Contact", [decoy_contact], CONTACT_FIELDS),
    )
    accounts, contacts = ids(sandbox, "Account"), ids(sandbox, "Contact")
    body = {"lead_sf_id": seeded["lead"], "match_policy": MATCH_POLICY}
    status, data, _ = await convert(client, tenant, body)
    assert status == 200, data
    assert set(data) == DOCUMENTED
    assert data["success"] is True and data["status"] == "converted" and data["cached"] is False
    assert data["account_id"] == seeded["account"] and data["contact_id"] == seeded["contact"]
    assert data["credits_consumed"] == 5 and data["credits_remaining"] == 995
    # Nothing was created beside the existing records.
    assert ids(sandbox, "Account") == accounts and ids(sandbox, "Contact") == contacts
    state = lead_state(gateway, seeded["lead"])
    assert state["IsConverted"] is True
    assert (state["ConvertedAccountId"], state["ConvertedContactId"]) == (
        seeded["account"], seeded["contact"])  # fmt: skip
    kinds = [a["type"] for a in data["actions"]]
    assert kinds[:2] == ["match_contact", "match_account"] and "convert" in kinds
    contact_match = data["actions"][0]
    assert (
        contact_match["sf_id"] == seeded["contact"] and "email:eq" in contact_match["rules_fired"]
    )
    assert contact_match["score"] > 0.8 and "matched Contact" in contact_match["message"]
    merged = [a for a in data["actions"] if a["type"] == "merge"]
    assert {a["object"] for a in merged} == {"Contact", "Account"}
    contact_merge = next(a for a in merged if a["object"] == "Contact")
    # Salesforce fills only the contact's empty fields: Title and city came from the lead.
    assert contact_merge["diff"]["Title"] == {"old": None, "new": "CTO"}
    assert contact_merge["diff"]["MailingCity"] == {"old": None, "new": "Austin"}
    assert "Email" not in contact_merge["diff"]
    entries = logs(db, tenant["tenant_id"])
    by_action = {(e.action, e.object): e for e in entries}
    convert_log = by_action[("convert", "Lead")]
    assert convert_log.object_id == seeded["lead"] and convert_log.idempotency_key is None
    assert convert_log.diff["Lead"]["IsConverted"] == {"old": False, "new": True}
    assert convert_log.diff["Contact"]["created"] is False
    assert convert_log.diff["Contact"]["changes"]["Title"]["new"] == "CTO"
    assert convert_log.diff["Account"] == {
        "id": seeded["account"],
        "created": False,
        "changes": convert_log.diff["Account"]["changes"],
    }
    merge_log = by_action[("merge", "Contact")]
    assert merge_log.object_id == seeded["contact"]
    assert merge_log.diff["changes"]["Title"] == {"old": None, "new": "CTO"}
    assert merge_log.diff["lead_id"] == seeded["lead"]
    assert ("merge", "Account") in by_action
    assert decoy_account not in (data["account_id"], state["ConvertedAccountId"])
    assert decoy_contact not in (data["contact_id"], state["ConvertedContactId"])
    assert {a.get("sf_id") for a in data["actions"]}.isdisjoint({decoy_account, decoy_contact})
    assert (
        gateway.fetch("Account", [decoy_account], ACCOUNT_FIELDS),
        gateway.fetch("Contact", [decoy_contact], CONTACT_FIELDS),
    ) == decoys_before  # untouched
    assert {e.object_id for e in entries}.isdisjoint({decoy_account, decoy_contact})


async def test_no_match_and_create_if_no_match_false_leaves_the_lead(
    client, tenant, sandbox, gateway, db, tag
) -> None:
    lead = sandbox.create("Lead", {"LastName": f"Nobody{tag}", "Company": f"Quokka{tag} Ltd",
                                   "Email": f"x@quokka{tag}.io"})  # fmt: skip
    accounts = ids(sandbox, "Account")
    policy = {"contact": {"by": ["email:eq"], "create_if_no_match": False},
              "account": {"by": ["domain:eq"], "create_if_no_match": True}}  # fmt: skip
    status, data, _ = await convert(client, tenant, {"lead_sf_id": lead, "match_policy": policy})
    assert status == 200, data
    assert data["success"] is False and data["status"] == "failed"
    assert data["account_id"] is None and data["contact_id"] is None
    last = data["actions"][-1]
    assert last["type"] == "not_converted"
    assert "no Contact matched and match_policy.contact.create_if_no_match is false" in (
        last["message"])  # fmt: skip
    # The pre-check ran (2 credits); the conversion (3) was refunded.
    assert data["credits_consumed"] == 2 and data["credits_remaining"] == 998
    assert lead_state(gateway, lead)["IsConverted"] is False
    assert ids(sandbox, "Account") == accounts
    (entry,) = logs(db, tenant["tenant_id"])
    assert entry.action == "skip" and entry.object_id == lead and "create_if_no_match" in (
        entry.reason)  # fmt: skip


async def test_already_converted_lead_reports_duplicate(client, tenant, seeded, gateway) -> None:
    body = {"lead_sf_id": seeded["lead"], "match_policy": MATCH_POLICY}
    status, first, _ = await convert(client, tenant, body)
    assert status == 200 and first["status"] == "converted"
    status, data, _ = await convert(client, tenant, body)  # no Idempotency-Key
    assert status == 200, data
    assert data["status"] == "duplicate" and data["success"] is True
    assert (data["account_id"], data["contact_id"]) == (seeded["account"], seeded["contact"])
    assert data["owner_id"] == lead_state(gateway, seeded["lead"])["OwnerId"]
    assert data["actions"][0]["type"] == "duplicate"
    assert data["credits_consumed"] == 0 and data["credits_remaining"] == 995


async def test_idempotency_key_replay_conflict_and_mismatch(
    client, tenant, seeded, sandbox, db
) -> None:
    body = {"lead_sf_id": seeded["lead"], "match_policy": MATCH_POLICY}
    key = {"Idempotency-Key": f'"convert-{seeded["lead"]}"'}
    sandbox.add_fault(kind="latency", path="Soap", latency_ms=1500, times=1)
    try:
        first = asyncio.ensure_future(convert(client, tenant, body, **key))
        await asyncio.sleep(0.7)  # the first one is inside convertLead
        status, data, _ = await convert(client, tenant, body, **key)
        assert status == 409, data
        assert data["error"] == "A request with this Idempotency-Key is still being processed"
        status, original, _ = await first
    finally:
        sandbox.clear_faults()
    assert status == 200 and original["status"] == "converted"
    status, replay, headers = await convert(client, tenant, body, **key)
    assert status == 200 and headers["Idempotent-Replayed"] == "true"
    assert replay == original  # byte for byte the stored answer: converted, not duplicate
    status, data, _ = await convert(
        client,
        tenant,
        {**body, "merge_policy": {"on_contact_match": "create_separate_contact"}},
        **key,
    )
    assert status == 422 and data["detail"][0]["type"] == "idempotency_key_reused"
    assert credits.remaining(db, tenant["tenant_id"]) == 995  # charged once


async def test_owner_from_a_round_robin_pool(client, tenant, seeded, sandbox, gateway, db) -> None:
    a, b = two_active_users(sandbox, 6, 21)
    resp = await client.post(
        "/v1/routing/pools",
        headers=auth(tenant),
        json={"name": "converters", "members": [{"user_id": a, "weight": 2}, {"user_id": b}]},
    )
    assert resp.status == 201, await resp.json()
    before = lead_state(gateway, seeded["lead"])["OwnerId"]
    body = {"lead_sf_id": seeded["lead"], "match_policy": MATCH_POLICY,
            "set_owner_round_robin_pool": "converters",
            "logs": {"reason": "SDR qualified"}}  # fmt: skip
    status, data, _ = await convert(client, tenant, body, **{"Idempotency-Key": "rr-1"})
    assert status == 200, data
    assert data["status"] == "converted" and data["owner_id"] == a  # weight 2 goes first
    assert data["credits_consumed"] == 6 and data["credits_remaining"] == 994
    owner = next(x for x in data["actions"] if x["type"] == "assign_owner")
    assert owner["pool"] == "converters" and owner["sequence"] == 1 and owner["sf_id"] == a
    assert lead_state(gateway, seeded["lead"])["OwnerId"] == a
    entries = {e.action: e for e in logs(db, tenant["tenant_id"]) if e.object == "Lead"}
    convert_log, assign_log = entries["convert"], entries["assign"]
    assert (convert_log.pool, convert_log.assigned_to, convert_log.sequence) == ("converters", a, 1)
    assert convert_log.prev_owner == before and convert_log.idempotency_key == "rr-1"
    assert convert_log.reason.endswith("(SDR qualified)")
    assert convert_log.diff["Lead"]["OwnerId"] == {"old": before, "new": a}
    assert (assign_log.assigned_to, assign_log.sequence, assign_log.reason) == (a, 1, "convert")
    resp = await client.get("/v1/routing/pools/converters", headers=auth(tenant))
    assert (await resp.json())["sequence"] == 1  # the rotation advanced once


@pytest.mark.parametrize("raced", [False, True], ids=["logged_before", "logged_meanwhile"])
async def test_converting_a_lead_routed_in_the_same_pool_keeps_every_log(
    client, tenant, seeded, sandbox, gateway, db, raced
) -> None:
    """The lead was assigned (assign log, sequence 1); its conversion with the same pool
    replays that pick. No second assign log (the one-per-sequence index would refuse it and
    roll back the convert and merge logs of a conversion Salesforce already made)."""
    a, b = two_active_users(sandbox, 6, 22)
    resp = await client.post("/v1/routing/pools", headers=auth(tenant),
                             json={"name": "converters", "members": [{"user_id": a},
                                                                     {"user_id": b}]})  # fmt: skip
    assert resp.status == 201, await resp.json()
    before = lead_state(gateway, seeded["lead"])["OwnerId"]
    resp = await client.post("/v1/routing/assign", headers=auth(tenant),
                             json={"object": "lead", "sf_id": seeded["lead"],
                                   "pool": "converters"})  # fmt: skip
    assert resp.status == 200 and (await resp.json())["sequence"] == 1
    if raced:  # the assign log lands after the conversion looked for it (a concurrent assign)
        client.app[ROUTING].logged = lambda *args, **kw: set()
    body = {"lead_sf_id": seeded["lead"], "set_owner_round_robin_pool": "converters"}
    status, data, _ = await convert(client, tenant, body)
    assert status == 200, data
    assert (data["status"], data["owner_id"]) == ("converted", a)
    assert data["credits_consumed"] == 4 and credits.remaining(db, tenant["tenant_id"]) == 995
    assert lead_state(gateway, seeded["lead"])["IsConverted"] is True
    entries = [e for e in logs(db, tenant["tenant_id"]) if e.object == "Lead"]
    assert [(e.action, e.assigned_to, e.sequence, e.prev_owner) for e in entries] == [
        ("assign", a, 1, before), ("convert", a, 1, a)
    ]  # fmt: skip
    assert entries[0].reason == "round_robin"
    resp = await client.get("/v1/routing/pools/converters", headers=auth(tenant))
    assert (await resp.json())["sequence"] == 1  # the rotation did not advance


@pytest.mark.parametrize(
    "change, where",
    [
        ({"lead_sf_id": to_18("001000000000001")}, ["body", "lead_sf_id"]),
        ({"lead_sf_id": "nope"}, ["body", "lead_sf_id"]),
        ({"match_policy": {"contact": {"by": ["colour:eq"]}}}, ["body", "match_policy"]),
        ({"merge_policy": {"on_contact_match": "merge_everything"}}, ["body", "merge_policy"]),
        ({"surprise": 1}, ["body", "surprise"]),
    ],
)
async def test_bad_requests_are_422(client, tenant, change, where) -> None:
    body = {"lead_sf_id": MISSING, **change}
    status, data, _ = await convert(client, tenant, body)
    assert status == 422, data
    assert data["detail"][0]["loc"][: len(where)] == where


async def test_unknown_lead_and_pool_are_404_and_free(client, tenant, db) -> None:
    status, data, _ = await convert(client, tenant, {"lead_sf_id": MISSING})
    assert status == 404 and data["details"] == {"lead_sf_id": MISSING}
    status, data, _ = await convert(
        client, tenant, {"lead_sf_id": MISSING, "set_owner_round_robin_pool": "x"}
    )
    assert status == 404 and data["details"] == {"pool": "x"}
    assert credits.remaining(db, tenant["tenant_id"]) == 1000


async def test_without_match_policy_salesforce_creates_new_records(
    client, tenant, seeded, sandbox
) -> None:
    accounts, contacts = ids(sandbox, "Account"), ids(sandbox, "Contact")
    status, data, _ = await convert(client, tenant, {"lead_sf_id": seeded["lead"]})
    assert status == 200 and data["status"] == "converted", data
    assert data["credits_consumed"] == 3
    assert data["account_id"] not in accounts and data["contact_id"] not in contacts
    assert ids(sandbox, "Account") == accounts | {data["account_id"]}
    assert [a["type"] for a in data["actions"]] == ["create", "create", "convert"]


async def test_match_policy_with_both_sides_null_charges_no_matching(
    client, tenant, seeded
) -> None:
    body = {"lead_sf_id": seeded["lead"], "match_policy": {"contact": None, "account": None}}
    status, data, _ = await convert(client, tenant, body)
    assert status == 200 and data["status"] == "converted", data
    assert not any(a["type"].startswith("match_") for a in data["actions"])  # no pre-check
    assert data["credits_consumed"] == 3 and data["credits_remaining"] == 997


async def test_separate_contact_policy_and_foreign_org(client, tenant, seeded, sandbox, db) -> None:
    body = {"lead_sf_id": seeded["lead"], "match_policy": MATCH_POLICY,
            "merge_policy": {"on_contact_match": "create_separate_contact"}}  # fmt: skip
    status, data, _ = await convert(client, tenant, body)
    assert status == 200 and data["status"] == "converted", data
    assert data["account_id"] == seeded["account"]  # attached to the matched account
    assert data["contact_id"] != seeded["contact"]  # a new contact, as the policy says
    assert any(a["type"] == "policy" and a["sf_id"] == seeded["contact"] for a in data["actions"])
    other = tenants.create_key(db, "globex")  # owns no org: may not convert the org's leads
    credits.grant(db, other.tenant_id, 10)
    resp = await client.post("/v1/salesforce/convert", json={"lead_sf_id": seeded["lead"]},
                             headers={"Authorization": f"Bearer {other.key}"})  # fmt: skip
    assert resp.status == 409
    assert (await resp.json())["details"]["reason"].startswith("no Salesforce org")
    assert credits.remaining(db, other.tenant_id) == 10


async def test_salesforce_refusing_the_conversion_is_failed_logged_and_refunded(
    client, tenant, seeded, sandbox, gateway, db
) -> None:
    # The lead stays locked past the gateway's own retries: convertLead refuses it.
    sandbox.add_fault(kind="UNABLE_TO_LOCK_ROW_RECORDS", path="/Soap/", record_indexes=[0])
    try:
        status, data, _ = await convert(client, tenant, {"lead_sf_id": seeded["lead"]})
    finally:
        sandbox.clear_faults()
    assert status == 200, data
    assert data["success"] is False and data["status"] == "failed"
    assert data["account_id"] is None and data["contact_id"] is None
    last = data["actions"][-1]
    assert last["type"] == "not_converted" and "UNABLE_TO_LOCK_ROW" in last["message"]
    assert data["credits_consumed"] == 0 and data["credits_remaining"] == 1000  # refunded
    assert lead_state(gateway, seeded["lead"])["IsConverted"] is False
    (entry,) = logs(db, tenant["tenant_id"])
    assert (entry.action, entry.object, entry.object_id) == ("error", "Lead", seeded["lead"])
    assert "Salesforce refused the conversion" in entry.reason


async def test_two_concurrent_converts_of_one_lead_one_converted_one_duplicate(
    client, tenant, seeded, sandbox, gateway, db
) -> None:
    body = {"lead_sf_id": seeded["lead"]}  # no Idempotency-Key
    # Both read the lead before either converts it: the second convertLead is refused with
    # CANNOT_UPDATE_CONVERTED_LEAD.
    gw = client.app[CONVERSION].sf()
    converts_before = gw.calls_by_operation.get("convert_leads", 0)
    delay = sandbox.add_fault(kind="latency", path="/Soap/", latency_ms=800, times=2)
    try:
        answers = await asyncio.gather(convert(client, tenant, body), convert(client, tenant, body))
        [fired] = [rule for rule in sandbox.faults() if rule["id"] == delay["id"]]
    finally:
        sandbox.clear_faults()
    # The race was really run: both requests called convertLead (neither read the lead after
    # the other converted it, which answers duplicate from the first read and proves nothing).
    assert gw.calls_by_operation.get("convert_leads", 0) - converts_before == 2
    assert fired["hits"] == 2
    assert [status for status, _, _ in answers] == [200, 200], answers
    by_status = {data["status"]: data for _, data, _ in answers}
    assert set(by_status) == {"converted", "duplicate"}, answers
    won, lost = by_status["converted"], by_status["duplicate"]
    state = lead_state(gateway, seeded["lead"])
    assert (lost["account_id"], lost["contact_id"]) == (won["account_id"], won["contact_id"])
    assert (state["ConvertedAccountId"], state["ConvertedContactId"]) == (
        won["account_id"], won["contact_id"])  # fmt: skip
    assert lost["success"] is True and lost["actions"][-1]["type"] == "duplicate"
    assert lost["credits_consumed"] == 0 and won["credits_consumed"] == 3
    assert credits.remaining(db, tenant["tenant_id"]) == 997
    converts = [e for e in logs(db, tenant["tenant_id"]) if e.object == "Lead"]
    assert [e.action for e in converts] == ["convert"]


async def test_idempotency_key_of_a_pick_is_tied_to_its_lead(
    client, tenant, seeded, sandbox, gateway, db, tag
) -> None:
    """The key memo of the atomic pick is per pool, shared by both endpoints: a key used by a
    conversion and then by an assign of another lead in that pool must not replay the first
    lead's owner and sequence."""
    a, b = two_active_users(sandbox, 6, 22)
    resp = await client.post("/v1/routing/pools", headers=auth(tenant),
                             json={"name": "converters", "members": [{"user_id": a},
                                                                     {"user_id": b}]})  # fmt: skip
    assert resp.status == 201, await resp.json()
    key = {"Idempotency-Key": f"shared-{tag}"}
    body = {"lead_sf_id": seeded["lead"], "set_owner_round_robin_pool": "converters"}
    status, data, _ = await convert(client, tenant, body, **key)
    assert status == 200 and data["owner_id"] == a, data
    other = sandbox.create("Lead", {"LastName": f"Other{tag}", "Company": f"Other{tag}"})
    before = lead_state(gateway, other)["OwnerId"]
    entries = ledger(db, tenant["tenant_id"])
    resp = await client.post(
        "/v1/routing/assign", headers=auth(tenant, **key),
        json={"object": "lead", "sf_id": other, "pool": "converters"},
    )  # fmt: skip
    data = await resp.json()
    assert resp.status == 422, data
    assert data["detail"][0]["type"] == "idempotency_key_reused"
    assert data["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert lead_state(gateway, other)["OwnerId"] == before  # nothing written
    # Refused before charging: no debit and refund pair for the assign.
    assert ledger(db, tenant["tenant_id"]) == entries
    assert credits.remaining(db, tenant["tenant_id"]) == 996
    resp = await client.get("/v1/routing/pools/converters", headers=auth(tenant))
    assert (await resp.json())["sequence"] == 1  # the rotation did not advance
    # The other lead with its own key is assigned normally.
    resp = await client.post(
        "/v1/routing/assign", headers=auth(tenant, **{"Idempotency-Key": f"own-{tag}"}),
        json={"object": "lead", "sf_id": other, "pool": "converters"},
    )  # fmt: skip
    data = await resp.json()
    assert resp.status == 200 and (data["assigned_to"], data["sequence"]) == (b, 2), data


async def test_pool_owner_refusals_and_failures_keep_their_sequence_logged(
    client, tenant, sandbox, gateway, db, tag
) -> None:
    leaving = sandbox.create("User", {
        "Username": f"{tag}@sandbox.bridge.local", "LastName": "Leaving", "Alias": tag,
        "Email": f"{tag}@example.com", "IsActive": True,
    })  # fmt: skip
    sandbox.seed(users=6, seed=23)
    rows = sandbox.salesforce().query_all("SELECT Id FROM User WHERE IsActive = true")["records"]
    stays = next(r["Id"] for r in rows if r["Id"] not in (sandbox.integration_user_id, leaving))
    resp = await client.post("/v1/routing/pools", headers=auth(tenant), json={
        "name": "converters", "members": [{"user_id": leaving}, {"user_id": stays}]})  # fmt: skip
    assert resp.status == 201, await resp.json()
    leads = [sandbox.create("Lead", {"LastName": f"L{i}{tag}", "Company": f"C{i}{tag}"})
             for i in range(4)]  # fmt: skip

    async def convert_lead(lead: str) -> dict[str, Any]:
        body = {"lead_sf_id": lead, "set_owner_round_robin_pool": "converters"}
        status, data, _ = await convert(client, tenant, body)
        assert status == 200, data
        return data

    assert (await convert_lead(leads[0]))["owner_id"] == leaving  # active users now cached
    sandbox.update("User", leaving, {"IsActive": False}, system=True)
    assert (await convert_lead(leads[1]))["owner_id"] == stays
    third = await convert_lead(leads[2])  # `leaving`'s turn: Salesforce refuses the owner
    assert third["status"] == "converted" and third["owner_id"] == stays
    assert any(a["type"] == "owner_refused" for a in third["actions"])
    entries = [e for e in logs(db, tenant["tenant_id"]) if e.object_id == leads[2]]
    [skip] = [e for e in entries if e.action == "skip"]
    assert (skip.pool, skip.assigned_to, skip.sequence) == ("converters", leaving, 3)
    assert "INACTIVE_OWNER_OR_USER" in skip.reason
    [assign] = [e for e in entries if e.action == "assign"]
    assert (assign.assigned_to, assign.sequence) == (stays, 4)
    # A conversion Salesforce refuses after the pick: its error log holds the pick's sequence.
    sandbox.add_fault(kind="UNABLE_TO_LOCK_ROW_RECORDS", path="/Soap/", record_indexes=[0])
    try:
        failed = await convert_lead(leads[3])
    finally:
        sandbox.clear_faults()
    assert failed["status"] == "failed"
    [error] = [e for e in logs(db, tenant["tenant_id"]) if e.object_id == leads[3]]
    assert (error.action, error.pool, error.assigned_to, error.sequence) == (
        "error", "converters", stays, 5)  # fmt: skip
