"""Thin handlers: POST /v1/enrich/phone, /email, /company, /person (the documented contract).

Cache first (free, `cached: true`); otherwise charge the documented price (capped by
`max_credits`), run the cascade in a worker thread, and refund when nothing was found or the
work failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import redis
from aiohttp import web
from pydantic import BaseModel

from bridge.enrichment import models
from bridge.enrichment.lookups import LOOKUPS
from bridge.enrichment.service import EnrichmentService
from bridge.pipeline_config import load as load_pipeline_config
from bridge.web.appkeys import SETTINGS
from bridge.web.auth import principal
from bridge.web.charging import charge, refund_charge
from bridge.web.endpoints import EndpointTable
from bridge.web.responses import json_model
from bridge.web.validation import parse_body

ENRICHMENT = web.AppKey("enrichment", EnrichmentService)


class _EnrichmentEndpoints(EndpointTable):
    """Installing the endpoints also opens the service they share (cleanup_ctx)."""

    def install(self, app: web.Application) -> None:
        super().install(app)
        app.cleanup_ctx.append(_service)


async def _service(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    cascade = load_pipeline_config(settings.pipeline_config).enrichment.cascade()
    app[ENRICHMENT] = EnrichmentService.from_settings(settings, client, cascade)
    yield
    await asyncio.to_thread(app[ENRICHMENT].close)
    client.close()


routes = _EnrichmentEndpoints(tags=("Enrichment",))


async def _enrich(request: web.Request, name: str, model: type[BaseModel]) -> web.Response:
    started = time.perf_counter()
    body = await parse_body(request, model)
    lookup = LOOKUPS[name]
    service = request.app[ENRICHMENT]
    tenant_id = principal(request).tenant_id
    subject, wanted, scope = lookup.subject(body), lookup.wanted(body), f"api:{name}"
    result = None
    if service.cache is not None:
        result = await asyncio.to_thread(service.cache.get, tenant_id, scope, subject, wanted)
    if result is not None:
        spent = await charge(request, 0)
        consumed, remaining = 0, spent.remaining
    else:
        spent = await charge(request, lookup.charge_for(body))
        budget = lookup.budget_for(body, request.app[SETTINGS].enrich_upstream_max_credits)
        try:
            result = await asyncio.to_thread(
                service.enrich, tenant_id, scope, subject, wanted, budget=budget, use_cache=False
            )
        except Exception:
            await refund_charge(request, spent)
            raise
        consumed, remaining = spent.amount, spent.remaining
        if not lookup.found(body, result) and spent.amount:
            remaining = await refund_charge(request, spent)  # nothing found: not charged
            consumed = 0
    paid = {
        "credits_consumed": consumed,
        "credits_remaining": remaining,
        "processing_time_ms": round((time.perf_counter() - started) * 1000),
        "cached": result.cached,
    }
    return json_model(lookup.answer(body, result, paid))


_COMMON = (
    " Served by the provider cascade (the built-in offline provider, then the upstream "
    "provider when configured; EU/EEA people only get GDPR-safe providers). A repeated "
    "`record_id` with the same input is answered from cache (`cached: true`, 0 credits). "
    "A lookup that finds nothing is not charged."
)


@routes.post(
    "/v1/enrich/phone",
    summary="Phone enrichment",
    description="Finds a phone number (E.164) for a contact from name + company/domain, a "
    "LinkedIn id or an email." + _COMMON,
    area="sync",
    credits="5 credits per phone found; cached: 0",
    body=models.PhoneEnrichRequest,
    response=models.PhoneEnrichResponse,
)
async def enrich_phone(request: web.Request) -> web.Response:
    return await _enrich(request, "phone", models.PhoneEnrichRequest)


@routes.post(
    "/v1/enrich/email",
    summary="Email enrichment",
    description="Finds a professional email address from name and company." + _COMMON,
    area="sync",
    credits="Email search: 5 credits (at most max_credits); cached: 0",
    body=models.EmailEnrichRequest,
    response=models.EmailEnrichResponse,
)
async def enrich_email(request: web.Request) -> web.Response:
    return await _enrich(request, "email", models.EmailEnrichRequest)


@routes.post(
    "/v1/enrich/company",
    summary="Company enrichment",
    description="Firmographics for a company by name and/or domain." + _COMMON,
    area="sync",
    credits="Company lookup: 5 credits (at most max_credits); cached: 0",
    body=models.CompanyEnrichRequest,
    response=models.CompanyEnrichResponse,
)
async def enrich_company(request: web.Request) -> web.Response:
    return await _enrich(request, "company", models.CompanyEnrichRequest)


@routes.post(
    "/v1/enrich/person",
    summary="Person enrichment",
    description="Contact and professional data for a person at a company domain." + _COMMON,
    area="sync",
    credits="Person lookup: 4 credits (at most max_credits); cached: 0",
    body=models.PersonEnrichRequest,
    response=models.PersonEnrichResponse,
)
async def enrich_person(request: web.Request) -> web.Response:
    return await _enrich(request, "person", models.PersonEnrichRequest)
