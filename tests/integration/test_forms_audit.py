"""GET /v1/forms/audit through the real app and SQL: submissions (processed, spam, invalid)
read back newest first, filtered, paged by signed cursors, scoped to the tenant, personal data
redacted by the log rules, bad parameters answered 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.forms import audit
from bridge.forms.tables import FormSubmission
from bridge.tenants import service as tenants
from config.logging import REDACTED, Redactor
from config.settings import Settings
from tests.integration.test_forms_api import auth, form, make_key

PLAIN = {"enrichment_preferences": {"enabled": False}}  # fast: the audit is what is tested


def app_settings(settings: Settings, **extra: Any) -> Settings:
    # The audit shares the route-log export's rate limit (10/min); these tests read more.
    return settings.model_copy(update={"rate_limit_logs_per_min": 1000, **extra})


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(app_settings(settings)))


@pytest.fixture
def key(db: Database) -> dict[str, Any]:
    return make_key(db)


async def submit(client: TestClient, key: dict[str, Any], **extra: Any) -> dict[str, Any]:
    resp = await client.post("/v1/forms/submit", json=form(**{**PLAIN, **extra}),
                             headers=auth(key))  # fmt: skip
    return {"status": resp.status, **(await resp.json())}


async def read(client: TestClient, key: dict[str, Any], **params: Any) -> dict[str, Any]:
    resp = await client.get("/v1/forms/audit", params=params, headers=auth(key))
    data = await resp.json()
    assert resp.status == 200, data
    return data  # type: ignore[no-any-return]


async def test_submissions_are_listed_newest_first_redacted_and_filtered(client, key) -> None:
    first = await submit(client, key, form_source="pricing")
    spam = await submit(client, key, form_source="pricing",
                        additional_fields={"hp_website": "http://spam.example"})  # fmt: skip
    invalid = await submit(client, key, form_source="demo", email="ada@")
    last = await submit(client, key, form_source="demo", name="Grace Hopper",
                        email="grace@navy.example")  # fmt: skip
    assert invalid["status"] == 422 and spam["success"] is False
    data = await read(client, key)
    assert data["success"] is True and data["count"] == 4 and data["next_cursor"] is None
    entries = data["entries"]
    assert [e["status"] for e in entries] == ["enriched", "invalid", "spam", "enriched"]
    assert entries[0]["request_id"] == last["request_id"]
    assert entries[3]["request_id"] == first["request_id"]
    assert [e["form_source"] for e in entries] == ["demo", "demo", "pricing", "pricing"]
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    # What happened is there; who it was is not.
    assert entries[0]["request"]["email"] == REDACTED
    assert entries[0]["request"]["contact_name"] == REDACTED
    assert "grace" not in str(entries[0]).lower() and "0143" not in str(entries)
    assert entries[0]["result"]["status"] == "enriched" and entries[0]["result"]["credits"] == 2
    assert entries[1]["result"]["errors"][0]["loc"] == ["body", "email"]
    assert entries[2]["result"] == {"reason": "honeypot"}

    demo = await read(client, key, form_source="demo")
    assert [e["request_id"] for e in demo["entries"]] == [e["request_id"] for e in entries[:2]]
    assert [e["status"] for e in (await read(client, key, status="spam"))["entries"]] == ["spam"]
    both = await read(client, key, form_source="pricing", status="enriched")
    assert [e["request_id"] for e in both["entries"]] == [first["request_id"]]
    today = datetime.now(UTC).date()
    assert (await read(client, key, **{"from": today.isoformat()}))["count"] == 4
    assert (await read(client, key, to=today.isoformat()))["count"] == 4  # a date: whole day
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert (await read(client, key, **{"from": tomorrow}))["count"] == 0
    before_all = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert (await read(client, key, to=before_all))["count"] == 0


async def test_pages_follow_the_cursor_without_gaps_or_repeats(client, key) -> None:
    sent = [(await submit(client, key, form_source="paging"))["request_id"] for _ in range(5)]
    seen: list[str] = []
    pages = []
    params: dict[str, Any] = {"limit": 2, "form_source": "paging"}
    while True:
        page = await read(client, key, **params)
        pages.append(page["count"])
        seen += [e["request_id"] for e in page["entries"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
        # A submission arriving meanwhile is newer: it does not shift the older pages.
        if len(pages) == 1:
            await submit(client, key, form_source="paging")
    assert pages == [2, 2, 1]
    assert seen == list(reversed(sent))
    # A cursor belongs to its filters (and tenant): with others it is a 422, as is a forgery.
    first = await read(client, key, limit=2, form_source="paging")
    for bad in (
        {"limit": 2, "cursor": first["next_cursor"]},  # form_source dropped
        {"limit": 2, "form_source": "paging", "cursor": first["next_cursor"][:-3] + "xyz"},
    ):
        resp = await client.get("/v1/forms/audit", params=bad, headers=auth(key))
        data = await resp.json()
        assert resp.status == 422 and data["detail"][0]["loc"] == ["query", "cursor"], data


async def test_each_tenant_reads_only_its_own_and_site_keys_read_nothing(client, key, db) -> None:
    mine = await submit(client, key)
    other = make_key(db)  # the same tenant's second key sees the same log
    assert [e["request_id"] for e in (await read(client, other))["entries"]] == [
        mine["request_id"]]  # fmt: skip
    stranger = tenants.create_key(db, "globex")
    credits.grant(db, stranger.tenant_id, 100)
    theirs = {"key": stranger.key, "tenant_id": stranger.tenant_id}
    assert (await read(client, theirs))["entries"] == []
    await submit(client, theirs)
    assert [e["request_id"] for e in (await read(client, key))["entries"]] == [mine["request_id"]]
    # A per-site key is public in the page: it may submit, never read the audit.
    site = make_key(db, scopes=["forms"], allowed_origins=["https://www.acme.example"])
    resp = await client.get("/v1/forms/audit", headers=auth(site))
    data = await resp.json()
    assert resp.status == 403 and data["details"] == {"required_scope": "logs"}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "delivered"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, None),
        ({"form_source": ""}, "form_source"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"tenant_id": "2"}, "tenant_id"),
    ],
)
async def test_bad_query_parameters_are_422s_naming_the_parameter(client, key, params, loc) -> None:
    resp = await client.get("/v1/forms/audit", params=params, headers=auth(key))
    data = await resp.json()
    assert resp.status == 422, data
    assert data["detail"] and all(e["loc"][0] == "query" for e in data["detail"])
    if loc is not None:
        assert loc in [str(p) for e in data["detail"] for p in e["loc"]], data
    else:
        assert "'from' must not be after 'to'" in data["detail"][0]["msg"]


async def test_personal_data_shows_only_where_the_log_rules_allow_it(
    aiohttp_client, settings, key, db
) -> None:
    open_app = await aiohttp_client(create_app(app_settings(settings, log_personal_data=True)))
    sent = await submit(open_app, key, email="ada@engines.io")
    (entry,) = (await read(open_app, key))["entries"]
    assert entry["request_id"] == sent["request_id"]
    assert entry["request"]["email"] == "ada@engines.io"  # allowed: stored and shown
    # The same row read once personal data is switched off again: redacted on the way out.
    closed_app = await aiohttp_client(create_app(app_settings(settings)))
    (entry,) = (await read(closed_app, key))["entries"]
    assert entry["request"]["email"] == REDACTED and "engines" not in str(entry["request"])


async def test_the_endpoint_is_in_openapi_with_its_parameters(client) -> None:
    doc = await (await client.get("/openapi.json")).json()
    operation = doc["paths"]["/v1/forms/audit"]["get"]
    assert operation["x-rate-limit-area"] == "logs" and "Forms" in operation["tags"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"from", "to", "form_source", "status", "limit", "cursor"}
    assert not any(p["required"] for p in params.values())
    schema = doc["components"]["schemas"]["FormAuditResponse"]
    assert set(schema["properties"]) == {"success", "entries", "count", "next_cursor"}


def test_rows_are_read_with_the_table_order_not_insert_order(db: Database) -> None:
    """Keyset order is (timestamp, id): a row stamped earlier but inserted later sorts older."""
    tenant = tenants.create_key(db, "acme").tenant_id
    now = datetime.now(UTC)
    with db.session() as session:
        for i, stamp in enumerate([now, now - timedelta(hours=1), now]):
            session.add(FormSubmission(tenant_id=tenant, timestamp=stamp, request_id=f"r{i}",
                                       form_source="x", outcome="enriched", request={},
                                       result={}))  # fmt: skip
    where = audit.AuditFilter(tenant)
    page = audit.query(db, where, limit=2, before=None, redactor=Redactor())
    assert [e["request_id"] for e in page.entries] == ["r2", "r0"] and page.last is not None
    rest = audit.query(db, where, limit=2, before=page.last, redactor=Redactor())
    assert [e["request_id"] for e in rest.entries] == ["r1"] and rest.last is None
