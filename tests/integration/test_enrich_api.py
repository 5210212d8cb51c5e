"""POST /v1/enrich/phone, /email, /company, /person through the real app, Redis and SQL, with
the upstream provider pointed at a local server speaking the documented protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.tenants import service as tenants
from config.settings import Settings
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(balance=1000)
    server.add_person(
        "Grace",
        "Hopper",
        "navy.mil",
        title="Rear Admiral",
        phone="+12025550100",
        email="grace@navy.mil",
        email_status="valid",
        linkedin_url="https://linkedin.com/in/grace",
        job_last_seen_at="2025-08-30T15:12:00Z",
    )
    server.company_domains["us navy"] = "navy.mil"
    server.companies["databricks.com"] = {
        "name": "Databricks",
        "domain": "databricks.com",
        "industry": "Technology",
        "size_range": "500+",
        "hq": {"city": "San Francisco", "country": "US"},
        "geo": {"lat": 37.79, "lon": -122.4, "county": "San Francisco"},
        "last_verified_at": "2025-09-12T18:22:01Z",
    }
    with RunningUpstream(server):
        yield server


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, upstream: UpstreamServer) -> TestClient:
    values = settings.model_dump()
    values.update(enrich_upstream_url=upstream.url, enrich_upstream_api_key=upstream.api_key)
    return await aiohttp_client(create_app(Settings(_env_file=None, **values)))  # type: ignore[call-arg]


@pytest.fixture
def auth(db: Database) -> dict[str, str]:
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, 100)
    return {"Authorization": f"Bearer {created.key}"}


async def post(client: TestClient, path: str, body: dict[str, Any], auth: dict[str, str]):
    resp = await client.post(f"/v1/enrich/{path}", json=body, headers=auth)
    return resp, await resp.json()


async def test_person_charges_documented_price_then_cache_is_free(client, auth) -> None:
    body = {
        "record_id": "p1",
        "first_name": "Grace",
        "last_name": "Hopper",
        "company_domain": "navy.mil",
        "max_credits": 10,
    }
    resp, data = await post(client, "person", body, auth)
    assert resp.status == 200, data
    assert set(data) == {
        "success",
        "record_id",
        "person",
        "confidence",
        "credits_consumed",
        "credits_remaining",
        "processing_time_ms",
        "cached",
    }
    assert data["person"]["title"] == "Rear Admiral"
    assert data["person"]["email"] == "grace@navy.mil" and data["person"]["email_status"] == "valid"
    assert data["person"]["full_name"] == "Grace Hopper" and data["confidence"] == 0.9
    assert data["person"]["job_last_seen_at"] == "2025-08-30T15:12:00Z"
    assert data["credits_consumed"] == 4 and data["credits_remaining"] == 96
    assert data["cached"] is False and resp.headers["X-Credits-Remaining"] == "96"
    resp, again = await post(client, "person", body, auth)
    assert again["cached"] is True and again["credits_consumed"] == 0
    assert again["credits_remaining"] == 96 and again["person"] == data["person"]


async def test_person_email_status_comes_from_the_mailbox_check_not_syntax(client, auth) -> None:
    body = {"record_id": "p2", "first_name": "Grace", "last_name": "Hopper",
            "company_domain": "navy.mil", "email": "Grace@Navy.mil", "max_credits": 4}  # fmt: skip
    resp, data = await post(client, "person", body, auth)
    assert resp.status == 200, data
    assert data["person"]["email_status"] == "valid"  # offline's "unknown" no longer hides it
    assert data["person"]["title"] == "Rear Admiral" and data["credits_consumed"] == 4


async def test_the_input_email_handed_back_is_not_a_find(client, auth) -> None:
    body = {"record_id": "p3", "first_name": "Ada", "last_name": "Nobody",
            "company_domain": "navy.mil", "email": "ada@navy.mil", "max_credits": 4}  # fmt: skip
    resp, data = await post(client, "person", body, auth)
    assert resp.status == 200, data
    assert data["credits_consumed"] == 0 and data["credits_remaining"] == 100


async def test_max_credits_default_caps_the_charge(client, auth) -> None:
    body = {"record_id": "c1", "company_name": "Databricks", "domain": "databricks.com"}
    resp, data = await post(client, "company", body, auth)
    assert resp.status == 200, data
    assert data["company"]["name"] == "Databricks" and data["company"]["industry"] == "Technology"
    assert data["company"]["hq"]["city"] == "San Francisco"
    assert data["company"]["geo"] == {"lat": 37.79, "lon": -122.4, "county": "San Francisco"}
    assert data["company"]["last_verified_at"] == "2025-09-12T18:22:01Z"
    assert data["credits_consumed"] == 1  # documented default max_credits is 1


async def test_phone_from_email_and_echoes(client, auth, upstream) -> None:
    body = {
        "record_id": "ph1",
        "first_name": "Grace",
        "last_name": "Hopper",
        "company": "navy.mil",
        "email": "grace@navy.mil",
    }
    resp, data = await post(client, "phone", body, auth)
    assert resp.status == 200, data
    assert data["phone"] == "+12025550100" and data["email"] == "grace@navy.mil"
    assert data["first_name"] == "Grace" and data["company"] == "navy.mil"
    assert data["linkedin_id"] is None and data["credits_consumed"] == 5


async def test_phone_from_name_and_company_name_goes_straight_to_the_phone_search(
    client, auth, upstream
) -> None:
    # The default budget (5) cannot pay an email search and a phone search: no email search.
    body = {"record_id": "ph2", "first_name": "Grace", "last_name": "Hopper", "company": "US Navy"}
    resp, data = await post(client, "phone", body, auth)
    assert resp.status == 200, data
    assert upstream.seen("email") == [] and upstream.seen("person") == []
    (sent,) = upstream.seen("phone")  # the documented name + company method
    assert sent["company"] == "US Navy" and sent["max_credits"] == 5 and "email" not in sent
    assert data["phone"] == "+12025550100" and data["email"] is None
    assert data["credits_consumed"] == 5 and data["credits_remaining"] == 95


@pytest.mark.parametrize("company", ["Engines Ltd", "engines.io"])  # email search / person lookup
async def test_phone_lookup_gives_no_email_away_for_free(client, auth, upstream, company) -> None:
    upstream.company_domains["engines ltd"] = "engines.io"
    upstream.add_person("Ada", "Lovelace", "engines.io", email="ada@engines.io", title="Analyst")
    body = {"record_id": "ph3", "first_name": "Ada", "last_name": "Lovelace", "company": company}
    resp, data = await post(client, "phone", body, auth)
    assert resp.status == 200, data
    assert data["phone"] is None and data["email"] is None  # no phone found: nothing charged
    assert data["credits_consumed"] == 0 and data["credits_remaining"] == 100
    assert upstream.seen("email") == []
    resp, again = await post(client, "phone", body, auth)
    assert again["cached"] is True and again["email"] is None


async def test_untrusted_upstream_types_are_dropped_not_a_500(client, auth, upstream) -> None:
    upstream.add_person("Alan", "Turing", "bletchley.uk", title="Mathematician",
                        job_last_seen_at=1756566720, linkedin_url=["x"])  # fmt: skip
    upstream.companies["bletchley.uk"] = {
        "name": "Bletchley Park", "domain": "bletchley.uk", "industry": 7,
        "last_verified_at": 1757700000,
    }  # fmt: skip
    person = {"record_id": "t1", "first_name": "Alan", "last_name": "Turing",
              "company_domain": "bletchley.uk", "max_credits": 4}  # fmt: skip
    for _ in range(2):  # fresh, then from cache
        resp, data = await post(client, "person", person, auth)
        assert resp.status == 200, data
        assert data["person"]["title"] == "Mathematician"
        assert data["person"]["job_last_seen_at"] is None and data["person"]["linkedin_url"] is None
    company = {"record_id": "t2", "domain": "bletchley.uk", "max_credits": 5}
    for _ in range(2):
        resp, data = await post(client, "company", company, auth)
        assert resp.status == 200, data
        assert data["company"]["name"] == "Bletchley Park" and data["company"]["industry"] is None
        assert data["company"]["last_verified_at"] is None


async def test_email_from_name_and_company_name_uses_the_upstream_email_search(
    client, auth, upstream
) -> None:
    body = {"record_id": "e2", "first_name": "Grace", "last_name": "Hopper", "company": "US Navy",
            "max_credits": 7}  # fmt: skip
    resp, data = await post(client, "email", body, auth)
    assert resp.status == 200, data
    assert data["email"] == "grace@navy.mil" and data["confidence"] == 0.85
    assert data["credits_consumed"] == 5 and data["company"] == "US Navy"
    (sent,) = upstream.seen("email")  # no domain known: the person lookup cannot be used
    assert sent["company"] == "US Navy" and sent["max_credits"] == 7
    assert upstream.seen("person") == []


async def test_nothing_found_is_not_charged(client, auth) -> None:
    body = {"record_id": "e1", "first_name": "Nobody", "last_name": "Known", "company": "Acme"}
    resp, data = await post(client, "email", body, auth)
    assert resp.status == 200, data
    assert data["email"] is None and data["confidence"] is None
    assert data["credits_consumed"] == 0 and data["credits_remaining"] == 100


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("phone", {"record_id": "x", "first_name": "A"}, ["body"]),
        ("phone", {"first_name": "A", "email": "a@b.co"}, ["body", "record_id"]),
        ("email", {"record_id": "x", "first_name": "A", "last_name": "B"}, ["body", "company"]),
        (
            "email",
            {
                "record_id": "x",
                "first_name": "A",
                "last_name": "B",
                "company": "C",
                "max_credits": 0,
            },
            ["body", "max_credits"],
        ),
        ("company", {"record_id": "x", "max_credits": 101}, ["body", "max_credits"]),
        ("company", {"record_id": "x", "effort": "max"}, ["body", "effort"]),
        (
            "person",
            {
                "record_id": "x",
                "first_name": "A",
                "last_name": "B",
                "company_domain": "not a domain",
            },
            ["body", "company_domain"],
        ),
        (
            "person",
            {
                "record_id": "x",
                "first_name": "A",
                "last_name": "B",
                "company_domain": "acme.com",
                "email": "nope@",
            },
            ["body", "email"],
        ),
        (
            "person",
            {"record_id": "", "first_name": "A", "last_name": "B", "company_domain": "acme.com"},
            ["body", "record_id"],
        ),
    ],
)
async def test_documented_422s(client, auth, path, body, loc) -> None:
    resp, data = await post(client, path, body, auth)
    assert resp.status == 422, data
    assert data["detail"][0]["loc"][: len(loc)] == loc


async def test_bad_json_and_insufficient_credits(client, db) -> None:
    created = tenants.create_key(db, "poor")
    auth = {"Authorization": f"Bearer {created.key}"}
    resp = await client.post("/v1/enrich/person", data=b"{nope", headers=auth)
    assert resp.status == 422
    body = {
        "record_id": "p1",
        "first_name": "Grace",
        "last_name": "Hopper",
        "company_domain": "navy.mil",
    }
    resp, data = await post(client, "person", body, auth)
    assert resp.status == 402 and data["credits_required"] == 1
