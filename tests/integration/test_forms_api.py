"""POST /v1/forms/submit through the real app, Redis and SQL: validation, spam, GDPR, CORS,
the marketing webhook, and the Salesforce push against the sandbox."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from bridge.app import create_app
from bridge.credits import service as credits
from bridge.db import Database
from bridge.embedded_redis import free_port
from bridge.forms.tables import FormSubmission
from bridge.tenants import service as tenants
from bridge.triggers.signatures import verify
from config.logging import REDACTED
from config.settings import Settings
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer

SITE = "https://www.acme.example"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def make_key(db: Database, **kw: Any) -> dict[str, Any]:
    created = tenants.create_key(db, "acme", **kw)
    credits.grant(db, created.tenant_id, 1000)
    return {"key": created.key, "tenant_id": created.tenant_id}


def auth(key: dict[str, Any], **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}", **extra}


def form(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Ada Lovelace", "email": "Ada.Lovelace@Engines.io", "company": "Engines Ltd",
        "phone": "(202) 555-0143", "title": "VP Engineering", "form_source": "pricing",
        **extra,
    }  # fmt: skip


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    sources = {"demo": {"required": ["company", "title"]}, "de-site": {"region": "DE"}}
    tuned = settings.model_copy(update={"forms_sources": sources})
    return await aiohttp_client(create_app(tuned))


@pytest.fixture
def key(db: Database) -> dict[str, Any]:
    return make_key(db)


def audit_rows(db: Database) -> list[FormSubmission]:
    with db.session() as s:
        rows = s.scalars(select(FormSubmission).order_by(FormSubmission.id)).all()
        s.expunge_all()
        return list(rows)


async def test_returns_the_enriched_lead_and_charges_documented_credits(client, key, db) -> None:
    resp = await client.post("/v1/forms/submit", json=form(), headers=auth(key))
    data = await resp.json()
    assert resp.status == 200, data
    assert data["success"] is True and data["status"] == "enriched"
    lead = data["enriched_lead"]
    assert lead["email"] == "Ada.Lovelace@engines.io"  # domain normalised
    assert lead["phone"] == "+12025550143"  # E.164 with the default region
    assert lead["first_name"] == "Ada" and lead["last_name"] == "Lovelace"
    assert lead["company_domain"] == "engines.io" and lead["seniority"]
    assert data["credits_consumed"] == 5 and data["credits_remaining"] == 995
    assert data["gdpr_safe"] is True and data["cached"] is False and data["push_status"] is None
    again = await (await client.post("/v1/forms/submit", json=form(), headers=auth(key))).json()
    assert again["cached"] is True
    plain = form(enrichment_preferences={"enabled": False})
    no_enrich = await (await client.post("/v1/forms/submit", json=plain, headers=auth(key))).json()
    assert no_enrich["credits_consumed"] == 2
    rows = audit_rows(db)
    assert [r.outcome for r in rows] == ["enriched"] * 3
    # personal data redacted in the audit trail
    assert rows[0].request["email"] == REDACTED and rows[0].request["contact_name"]
    assert "Lovelace" not in str(rows[0].request) and "Lovelace" not in str(rows[0].result)
    assert "0143" not in str(rows[0].result)  # the phone too


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (form(email="ada@"), "email"),
        (form(email="not an email"), "email"),
        (form(phone="12"), "phone"),
        (form(phone="+1 555 0000 000000"), "phone"),
        ({k: v for k, v in form().items() if k != "email"}, "email"),
        (form(form_source="demo", title=None), "title"),
        (form(output_preferences={"disposition": "webhook"}), "output_preferences"),
    ],
)
async def test_invalid_fields_are_422s_naming_the_field(client, key, db, body, field) -> None:
    resp = await client.post("/v1/forms/submit", json=body, headers=auth(key))
    data = await resp.json()
    assert resp.status == 422, data
    assert field in [str(part) for e in data["detail"] for part in e["loc"]], data
    remaining = await (await client.get("/v1/credits/remaining", headers=auth(key))).json()
    assert remaining["remaining_credits"] == 1000  # nothing charged


async def test_phone_region_follows_the_form_source(client, key) -> None:
    body = form(form_source="de-site", phone="030 901820")
    data = await (await client.post("/v1/forms/submit", json=body, headers=auth(key))).json()
    assert data["enriched_lead"]["phone"] == "+4930901820"


async def test_honeypot_hit_is_dropped_logged_and_not_charged(client, key, db) -> None:
    body = form(additional_fields={"hp_website": "http://spam.example"},
                output_preferences={"disposition": "webhook",
                                    "webhook_url": "http://127.0.0.1:9/never"})  # fmt: skip
    data = await (await client.post("/v1/forms/submit", json=body, headers=auth(key))).json()
    assert data["success"] is False and data["status"] == "failed"
    assert data["enriched_lead"] is None and data["push_status"] is None
    assert data["credits_consumed"] == 0
    (row,) = audit_rows(db)
    assert row.outcome == "spam" and row.result == {"reason": "honeypot"}


async def test_burst_from_one_ip_is_dropped(aiohttp_client, settings, key) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"forms_burst_per_ip": 3})))
    plain = form(enrichment_preferences={"enabled": False})
    answers = [
        await (await client.post("/v1/forms/submit", json=plain, headers=auth(key))).json()
        for _ in range(5)
    ]
    assert [a["success"] for a in answers] == [True, True, True, False, False]


# --- GDPR -------------------------------------------------------------------------------------
@pytest.fixture
def upstream() -> Any:
    server = UpstreamServer(balance=100)
    server.add_person("Ada", "Lovelace", "engines.io", title="Countess", linkedin_url="x")
    server.add_person("Jan", "Jansen", "firma.de", title="Geschäftsführer")
    with RunningUpstream(server):
        yield server


@pytest.fixture
async def gdpr_client(aiohttp_client, settings, upstream) -> TestClient:
    tuned = settings.model_copy(update={
        "enrich_upstream_url": upstream.url, "enrich_upstream_gdpr_safe": False,
        "enrich_upstream_api_key": SecretStr(upstream.api_key),
    })  # fmt: skip
    return await aiohttp_client(create_app(tuned))


async def test_eu_person_without_consent_gets_only_gdpr_safe_providers(
    gdpr_client, key, upstream
) -> None:
    eu = form(name="Jan Jansen", email="jan@firma.de", phone="+49 30 901820", title=None,
              company="Firma GmbH", additional_fields={"country": "Germany"})  # fmt: skip
    data = await (await gdpr_client.post("/v1/forms/submit", json=eu, headers=auth(key))).json()
    assert data["success"] is True and data["gdpr_safe"] is True
    assert data["enriched_lead"]["phone_country"] == "DE"  # the safe offline provider ran
    assert upstream.seen() == []  # the non-safe upstream was never asked
    # A US person with consent: the upstream runs, and the answer says it was not GDPR-safe.
    us = form(title=None, enrichment_preferences={"consent": True})
    data = await (await gdpr_client.post("/v1/forms/submit", json=us, headers=auth(key))).json()
    assert len(upstream.seen()) == 1 and data["enriched_lead"]["title"] == "Countess"
    assert data["gdpr_safe"] is False
    # Refused consent is honoured for anyone.
    refused = form(email="ada@other.io", title=None, enrichment_preferences={"consent": False})
    data = await (await gdpr_client.post("/v1/forms/submit", json=refused,
                                         headers=auth(key))).json()  # fmt: skip
    assert len(upstream.seen()) == 1 and data["gdpr_safe"] is True


class SlowUpstream(UpstreamServer):
    async def handle(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return await super().handle(request)


async def test_slow_provider_is_cut_off_by_the_time_budget(aiohttp_client, settings, key) -> None:
    server = SlowUpstream()
    server.add_person("Ada", "Lovelace", "engines.io", title="Countess")
    with RunningUpstream(server):
        tuned = settings.model_copy(update={
            "enrich_upstream_url": server.url,
            "enrich_upstream_api_key": SecretStr(server.api_key),
        })  # fmt: skip
        client = await aiohttp_client(create_app(tuned))
        body = form(title=None, enrichment_preferences={"time_budget_ms": 300})
        resp = await client.post("/v1/forms/submit", json=body, headers=auth(key))
    data = await resp.json()
    assert resp.status == 200 and data["processing_time_ms"] < 1500, data
    lead = data["enriched_lead"]
    assert lead["phone"] == "+12025550143" and lead["title"] is None  # upstream cut off


# --- CORS -------------------------------------------------------------------------------------
async def test_cors_preflight_passes_for_an_allowed_origin_only(client, db) -> None:
    site = make_key(db, scopes=["forms"], allowed_origins=[SITE])
    preflight = {"Origin": SITE, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip
    ok = await client.options("/v1/forms/submit", headers=preflight)
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == SITE
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "authorization" in ok.headers["Access-Control-Allow-Headers"].lower()
    bad = await client.options(
        "/v1/forms/submit", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert bad.status == 403 and "Access-Control-Allow-Origin" not in bad.headers
    body = form(enrichment_preferences={"enabled": False})
    real = await client.post("/v1/forms/submit", json=body, headers=auth(site, Origin=SITE))
    assert real.status == 200 and real.headers["Access-Control-Allow-Origin"] == SITE
    other = await client.post("/v1/forms/submit", json=body,
                              headers=auth(site, Origin="https://evil.example"))  # fmt: skip
    assert other.status == 403 and "Access-Control-Allow-Origin" not in other.headers
    elsewhere = await client.post("/v1/match", json={}, headers=auth(site))
    assert elsewhere.status == 403  # a forms-scoped key opens nothing else


# --- marketing webhook ------------------------------------------------------------------------
class Receiver:
    """A marketing-automation endpoint that fails `failures` times, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read()))
        if len(self.calls) <= self.failures:
            return web.Response(status=503)
        return web.json_response({"ok": True})

    def __enter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.thread.start()

        async def start() -> None:
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.mark.parametrize(("failures", "success"), [(2, True), (10, False)])
async def test_failing_marketing_webhook_is_retried_and_reported(
    aiohttp_client, settings, key, db, failures, success
) -> None:
    tuned = settings.model_copy(update={"forms_webhook_secret": SecretStr(SECRET)})
    client = await aiohttp_client(create_app(tuned))
    with Receiver(failures) as hook:
        body = form(
            output_preferences={
                "disposition": "webhook",
                "webhook_url": f"http://127.0.0.1:{hook.port}/hook",
            }
        )
        data = await (await client.post("/v1/forms/submit", json=body, headers=auth(key))).json()
    assert len(hook.calls) == 3  # forms_webhook_attempts
    push = data["push_status"]
    assert push["target"] == "webhook" and push["attempts"] == 3 and push["success"] is success
    assert data["status"] == ("pushed" if success else "failed") and data["success"] is success
    assert data["credits_consumed"] == 6
    ids = {h["webhook-id"] for h, _ in hook.calls}
    assert len(ids) == 1  # one id across retries: the receiver can drop repeats
    headers, raw = hook.calls[-1]
    assert verify(raw, headers, [SECRET]) == ids.pop()
    row = audit_rows(db)[-1]
    assert row.result["push"]["attempts"] == 3 and row.result["push"]["success"] is success
