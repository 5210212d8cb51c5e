"""POST /v1/triggers/salesforce and .../outbound through the real app, Redis and SQL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.salesforce.ids import to_18
from bridge.tenants import service as tenants
from bridge.triggers import secrets
from bridge.triggers.intake import STREAM
from bridge.triggers.signatures import sign
from bridge.triggers.tables import WebhookSecret
from config.settings import Settings
from tests.unit.test_outbound_messages import message
from tests.unit.test_trigger_signatures import frozen_clock, trigger_vector

ORG = to_18("00D5g000004bQ2K")
LEADS = [to_18(f"00Q5g00000{n:05d}") for n in range(150)]
ACCOUNT = to_18("0015g00000AbCdE")


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def tenant(db: Database) -> dict[str, Any]:
    created = tenants.create_key(db, "acme")
    tenants.add_org(db, "acme", ORG)
    credits.grant(db, created.tenant_id, 1000)
    return {"key": created.key, "tenant_id": created.tenant_id}


@pytest.fixture
def outbound_key(db: Database, tenant: dict[str, Any]) -> str:
    """What the guide tells admins to put in the Outbound Message URL: a triggers-only key."""
    return tenants.create_key(db, "acme", name="outbound", scopes=["triggers"]).key


def auth(tenant: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant['key']}"}


def body(ids: list[str], sobject: str = "Lead", **extra: Any) -> dict[str, Any]:
    return {"object": sobject, "ids": ids, "event": "after_insert", "org_id": ORG, **extra}


def stream_ids(settings: Settings) -> list[str]:
    client = redis.Redis.from_url(settings.redis_url)
    entries = client.xrange(STREAM)
    client.close()
    return [i for _, fields in entries for i in fields[b"ids"].decode().split()]


async def test_accepts_ids_and_charges_documented_credits(client, tenant, settings) -> None:
    resp = await client.post("/v1/triggers/salesforce", json=body(LEADS[:3]), headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200, data
    assert set(data) == {
        "success", "processed_count", "enrichment_jobs", "workflow_status", "credits_consumed",
        "credits_remaining", "processing_time_ms", "cached",
    }  # fmt: skip
    assert data["success"] is True and data["processed_count"] == 3
    assert data["credits_consumed"] == 6 and data["credits_remaining"] == 994
    assert data["workflow_status"] == "queued" and data["cached"] is False
    assert len(data["enrichment_jobs"]) == 1
    assert resp.headers["X-Credits-Remaining"] == "994"
    assert stream_ids(settings) == LEADS[:3]
    # 15-character ids are accepted and normalised; duplicates within a call collapse.
    resp = await client.post(
        "/v1/triggers/salesforce",
        json=body([ACCOUNT[:15], ACCOUNT], sobject="Account"),
        headers=auth(tenant),
    )
    data = await resp.json()
    assert data["processed_count"] == 1 and data["credits_consumed"] == 3


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (body([]), ["body", "ids"]),
        (body(LEADS[:101]), ["body", "ids"]),
        (body(["00Qnotanid"]), ["body"]),
        (body([ACCOUNT]), ["body"]),  # an Account id as a Lead
        (body(LEADS[:1], event="after_delete"), ["body", "event"]),
        (body(LEADS[:1], sobject="Case"), ["body", "object"]),
        (body(LEADS[:1], org_id="001000000000001"), ["body", "org_id"]),
        ({"object": "Lead"}, ["body", "ids"]),
    ],
)
async def test_bad_bodies_are_422(client, tenant, payload, where) -> None:
    resp = await client.post("/v1/triggers/salesforce", json=payload, headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 422, data
    assert any(item["loc"][: len(where)] == where for item in data["detail"]), data
    assert all(set(item) == {"loc", "msg", "type"} for item in data["detail"])


async def test_malformed_json_is_422_and_never_charged(client, tenant, db) -> None:
    resp = await client.post(
        "/v1/triggers/salesforce", data=b'{"object": "Lead", ', headers=auth(tenant)
    )
    data = await resp.json()
    assert resp.status == 422 and data["detail"][0]["type"] == "json_invalid"
    assert credits.remaining(db, tenant["tenant_id"]) == 1000


async def test_foreign_org_is_403(client, tenant) -> None:
    other = to_18("00D5g000009zzzz")
    resp = await client.post(
        "/v1/triggers/salesforce", json=body(LEADS[:1], org_id=other), headers=auth(tenant)
    )
    data = await resp.json()
    assert resp.status == 403 and data["error"] == "org_id does not belong to this tenant"


async def test_insufficient_credits_is_402_and_nothing_accepted(client, db, settings) -> None:
    poor = tenants.create_key(db, "poor")
    tenants.add_org(db, "poor", to_18("00D5g00000POOR1"))
    credits.grant(db, poor.tenant_id, 3)
    payload = body(LEADS[:2], org_id=to_18("00D5g00000POOR1"))
    resp = await client.post(
        "/v1/triggers/salesforce", json=payload, headers={"Authorization": f"Bearer {poor.key}"}
    )
    data = await resp.json()
    assert resp.status == 402
    assert data["credits_required"] == 4 and data["credits_remaining"] == 3
    assert stream_ids(settings) == []


class TestSigned:
    @pytest.fixture
    def secret(self, db: Database, tenant: dict[str, Any]) -> str:
        return secrets.create(db, "acme")[1]

    def signed(self, tenant, secret, raw: bytes, wid: str = "msg_1", ts: int | None = None):
        ts = int(time.time()) if ts is None else ts
        return {
            **auth(tenant),
            "Content-Type": "application/json",
            "webhook-id": wid,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(raw, secret, wid, ts),
        }

    async def test_valid_signature_accepted_once(self, client, tenant, secret, db, settings):
        raw = json.dumps(body(LEADS[:2])).encode()
        first = await client.post(
            "/v1/triggers/salesforce", data=raw, headers=self.signed(tenant, secret, raw)
        )
        replay = await client.post(
            "/v1/triggers/salesforce", data=raw, headers=self.signed(tenant, secret, raw)
        )
        a, b = await first.json(), await replay.json()
        assert first.status == 200 and replay.status == 200
        assert a["cached"] is False and b["cached"] is True
        assert b["credits_consumed"] == 0 and b["enrichment_jobs"] == a["enrichment_jobs"]
        assert stream_ids(settings) == LEADS[:2]  # accepted once
        balance = await client.get("/v1/credits/remaining", headers=auth(tenant))
        assert (await balance.json())["remaining_credits"] == 996  # charged once

    @pytest.mark.parametrize("case", ["unsigned", "forged", "stale", "tampered", "other_secret"])
    async def test_refused_signatures(self, client, tenant, secret, settings, case) -> None:
        raw = json.dumps(body(LEADS[:1])).encode()
        headers = self.signed(tenant, secret, raw)
        if case == "unsigned":
            for h in ("webhook-id", "webhook-timestamp", "webhook-signature"):
                headers.pop(h)
        elif case == "forged":
            headers["webhook-signature"] = "v1," + "A" * 44
        elif case == "stale":
            headers = self.signed(tenant, secret, raw, ts=int(time.time()) - 600)
        elif case == "tampered":
            raw = raw.replace(b"after_insert", b"after_update")
        else:
            headers = self.signed(tenant, "whsec_" + "B" * 32, raw)
        resp = await client.post("/v1/triggers/salesforce", data=raw, headers=headers)
        data = await resp.json()
        assert resp.status == 401, data
        assert data["error"] == "Invalid webhook signature" and data["request_id"]
        assert stream_ids(settings) == []

    async def test_rotation_old_and_new_secret_both_work(self, client, tenant, secret, db):
        new_secret = secrets.create(db, "acme")[1]
        for n, s in enumerate((secret, new_secret)):
            raw = json.dumps(body(LEADS[n : n + 1])).encode()
            resp = await client.post(
                "/v1/triggers/salesforce", data=raw,
                headers=self.signed(tenant, s, raw, wid=f"msg_rot_{n}"),
            )  # fmt: skip
            assert resp.status == 200


async def test_guide_vector_bytes_accepted_and_a_second_edit_is_not_a_retry(
    client, tenant, db, settings, monkeypatch
) -> None:
    """The guide's trigger vector posted as printed: its body bytes and all three headers.
    Fixed clock, not re-signing: the library's 300 s window is pinned just after the vector's
    timestamp, so the printed signature itself is what the API verifies. A redelivery of the
    same event (same id) is free; an identical later edit (new EventUuid) is processed."""
    v = trigger_vector()
    with db.session() as s:
        s.add(WebhookSecret(tenant_id=tenant["tenant_id"], secret=v["secret"]))
    ts = int(v["webhook-timestamp"])
    frozen_clock(monkeypatch, ts + 5)
    raw = v["body"].encode()
    printed = {
        **auth(tenant), "Content-Type": "application/json",
        **{k: v[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")},
    }  # fmt: skip
    first = await client.post("/v1/triggers/salesforce", data=raw, headers=printed)
    retry = await client.post("/v1/triggers/salesforce", data=raw, headers=printed)
    next_edit_id = "msg_0f8c1e2a-5b7d-4c3e-9a1f-2d4b6c8e0a13"
    next_edit = {
        **printed, "webhook-id": next_edit_id,
        "webhook-signature": sign(raw, v["secret"], next_edit_id, ts),
    }  # fmt: skip
    second = await client.post("/v1/triggers/salesforce", data=raw, headers=next_edit)
    a, b, c = await first.json(), await retry.json(), await second.json()
    assert (first.status, retry.status, second.status) == (200, 200, 200), (a, b, c)
    assert (a["cached"], b["cached"], c["cached"]) == (False, True, False)
    assert (a["credits_consumed"], b["credits_consumed"], c["credits_consumed"]) == (4, 0, 4)
    ids = json.loads(raw)["ids"]
    assert stream_ids(settings) == ids + ids  # the edit is accepted, the retry is not


async def test_outbound_message_acked_and_accepted_once(client, outbound_key, settings) -> None:
    raw = message(LEADS[0], LEADS[1], org=ORG)
    url = f"/v1/triggers/salesforce/outbound?key={outbound_key}"
    for _ in range(2):  # Salesforce resends until it gets the Ack
        resp = await client.post(url, data=raw, headers={"Content-Type": "text/xml"})
        text = await resp.text()
        assert resp.status == 200 and "<Ack>true</Ack>" in text
        assert resp.content_type == "text/xml"
    assert stream_ids(settings) == LEADS[:2]


async def test_outbound_bad_xml_is_422_and_key_required(client, outbound_key) -> None:
    resp = await client.post(
        f"/v1/triggers/salesforce/outbound?key={outbound_key}", data=b"<not-soap/>"
    )
    assert resp.status == 422
    resp = await client.post("/v1/triggers/salesforce/outbound", data=message(LEADS[0], org=ORG))
    assert resp.status == 401


@pytest.mark.parametrize("scopes", [[], ["forms"], ["triggers", "forms"]])
async def test_outbound_query_key_must_be_triggers_only(client, tenant, db, settings, scopes):
    """A key in the URL sits in Salesforce's setup pages and in logs: an unscoped key (which
    may call everything) or one reaching other areas is refused there, with nothing accepted;
    the same key still works in the Authorization header."""
    key = tenants.create_key(db, "acme", scopes=scopes).key
    raw = message(LEADS[0], org=ORG)
    resp = await client.post(f"/v1/triggers/salesforce/outbound?key={key}", data=raw)
    data = await resp.json()
    assert resp.status == 403, data
    assert data["error"] == "An API key passed as ?key= must be limited to the 'triggers' scope"
    assert data["details"] == {"required_scope": "triggers"} and data["request_id"]
    assert stream_ids(settings) == []
    if "triggers" in scopes or not scopes:
        resp = await client.post(
            "/v1/triggers/salesforce/outbound", data=raw, headers={"Authorization": f"Bearer {key}"}
        )
        assert resp.status == 200 and "<Ack>true</Ack>" in await resp.text()


async def test_polling_status_empty(client, tenant) -> None:
    resp = await client.get("/v1/triggers/polling/status", headers=auth(tenant))
    data = await resp.json()
    assert resp.status == 200
    assert data["objects"] == [] and data["last_poll_time"] is None


async def test_rate_limit_applies_in_the_intake_script_across_processes(
    aiohttp_client: Any, settings: Settings, tenant: dict[str, Any]
) -> None:
    """The triggers limit is enforced by the accept script itself: shared by two apps, the
    429 has the documented body and Retry-After, refused callouts are neither queued nor
    charged, and accepted ones carry the X-RateLimit headers."""
    limited = settings.model_copy(update={"rate_limit_triggers_per_min": 4})
    one = await aiohttp_client(create_app(limited))
    two = await aiohttp_client(create_app(limited))
    statuses = []
    for n in range(6):
        resp = await (one if n % 2 else two).post(
            "/v1/triggers/salesforce", json=body([LEADS[n]]), headers=auth(tenant)
        )
        statuses.append(resp.status)
        if resp.status == 200:
            assert resp.headers["X-RateLimit-Limit"] == "4"
            assert int(resp.headers["X-RateLimit-Remaining"]) == 3 - n
        else:
            data = await resp.json()
            assert data["error"] == "Rate limit exceeded" and 1 <= data["retry_after"] <= 15
            assert resp.headers["Retry-After"] == str(data["retry_after"])
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert stream_ids(settings) == LEADS[:4]
    remaining = await one.get("/v1/credits/remaining", headers=auth(tenant))
    assert (await remaining.json())["remaining_credits"] == 1000 - 8
