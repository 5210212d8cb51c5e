"""Thin handlers: POST /v1/forms/submit (and its CORS preflight for browser forms),
GET /v1/forms/audit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import redis
from aiohttp import web

from bridge.credits.service import InsufficientCredits
from bridge.forms import audit, webhook_push
from bridge.forms.checks import FormInvalid
from bridge.forms.factory import form_service
from bridge.forms.models import (
    FormAuditEntry,
    FormAuditQuery,
    FormAuditResponse,
    FormSubmitRequest,
    FormSubmitResponse,
    PushStatus,
)
from bridge.forms.service import FormService, Spam, price
from bridge.forms.spam import BurstLimit
from bridge.keyset_cursor import CursorSigner, InvalidCursor
from bridge.web.appkeys import DB, REDIS, SALESFORCE, SETTINGS
from bridge.web.auth import principal
from bridge.web.charging import CREDITS_CACHE, insufficient, note_debit
from bridge.web.cors import enable_cors
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import RequestValidationError
from bridge.web.request_id import REQUEST_ID
from bridge.web.responses import json_model
from bridge.web.secret_key import secret_key
from bridge.web.validation import parse_body, parse_query

FORMS = web.AppKey("forms", FormService)
AUDIT_CURSORS = web.AppKey("forms_audit_cursors", CursorSigner)
PATH = "/v1/forms/submit"


class _FormEndpoints(EndpointTable):
    def install(self, app: web.Application) -> None:
        super().install(app)
        app[AUDIT_CURSORS] = CursorSigner(
            secret_key(app[SETTINGS]), salt=audit.CURSOR_SALT, filter_names=audit.CURSOR_FILTERS
        )
        app.cleanup_ctx.append(_service)
        enable_cors(app, PATH, "POST, OPTIONS", scope="forms")


async def _service(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    session = aiohttp.ClientSession()
    secret = settings.forms_webhook_secret.get_secret_value()

    async def webhook(url: str, payload: dict[str, Any], rid: str, deadline: float) -> PushStatus:
        return await webhook_push.push(
            session, url, payload, webhook_id=f"form_{rid}", secret=secret,
            attempts=settings.forms_webhook_attempts, deadline=deadline,
        )  # fmt: skip

    burst = BurstLimit(app[REDIS], settings.forms_burst_per_ip)
    app[FORMS] = await asyncio.to_thread(
        form_service, settings, app[DB], client, burst, webhook, gateway=app[SALESFORCE]
    )
    yield
    app[FORMS].enricher.close()
    await session.close()
    client.close()


routes = _FormEndpoints(tags=("Forms",))


@routes.post(
    PATH,
    summary="Submit form",
    description="Accepts a form submission, validates it (email syntax, phone to E.164 with "
    "the site's default region, required fields per `form_source`), enriches it within a time "
    "budget (EU/EEA people and refused consent: GDPR-safe providers only) and dispositions it: "
    "returned, pushed to Salesforce (an existing Lead or Contact with the same email is "
    "updated, else a Lead is created and routed), or POSTed to a marketing webhook (Standard "
    "Webhooks signature, retried with backoff). A key may be limited to the `forms` scope and "
    "to allowed origins so a browser can post directly (CORS, preflight included). A filled "
    "honeypot field (`additional_fields.hp_website`) or a burst from one IP is dropped "
    "unprocessed and uncharged (`success: false`).",
    area="forms",
    credits="2 credits per form, +3 with enrichment, +1 with a push",
    body=FormSubmitRequest,
    response=FormSubmitResponse,
)
async def submit(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await parse_body(request, FormSubmitRequest)
    service = request.app[FORMS]
    tenant_id = principal(request).tenant_id
    rid = request[REQUEST_ID]

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        await service.screen(tenant_id, body, request.remote or "")
    except Spam as spam:
        await service.audit(tenant_id, body, rid, "spam", {"reason": spam.reason})
        remaining = await request.app[CREDITS_CACHE].get(tenant_id)
        return json_model(FormSubmitResponse(
            success=False, status="failed", request_id=rid, processing_time_ms=elapsed(),
            credits_consumed=0, credits_remaining=remaining, gdpr_safe=True, cached=False,
        ))  # fmt: skip
    try:
        form = service.validate(body)
    except FormInvalid as exc:
        await service.audit(tenant_id, body, rid, "invalid", {"errors": exc.errors})
        raise RequestValidationError(exc.errors) from None
    try:
        spent = await service.charge(tenant_id, price(body), rid)
    except InsufficientCredits as exc:
        raise insufficient(exc) from None
    spent = await note_debit(request, spent)
    try:
        outcome = await service.process(tenant_id, body, form, rid)
    except Exception:
        await service.refund(spent)
        raise
    push = outcome.push_status
    await service.audit(tenant_id, body, rid, outcome.status, {
        "status": outcome.status, "lead": outcome.enriched_lead, "notes": outcome.notes,
        "push": push.model_dump() if push else None, "credits": spent.amount,
    })  # fmt: skip
    show = body.output_preferences.include_enriched_lead
    return json_model(FormSubmitResponse(
        success=outcome.status != "failed", status=outcome.status, request_id=rid,
        processing_time_ms=elapsed(), enriched_lead=outcome.enriched_lead if show else None,
        push_status=push, credits_consumed=spent.amount, credits_remaining=spent.remaining,
        gdpr_safe=outcome.gdpr_safe, cached=outcome.cached,
    ))  # fmt: skip


@routes.get(
    "/v1/forms/audit",
    summary="Form submission audit log",
    description="Every form submission of the caller's tenant (processed, spam, invalid), "
    "newest first: the request and what happened to it (lead, enrichment notes, push result, "
    "credits), personal data redacted like the logs. Filters `from`, `to` (ISO dates or "
    "datetimes, inclusive), `form_source`, `status`; `limit` (default 100, max 1000). When "
    "older entries follow, `next_cursor` is set: repeat the request with `cursor=` for them. "
    "Rate-limited and scoped like the route-log export (`logs`), so a per-site forms key, "
    "public in a web page, cannot read it.",
    area="logs",
    query=FormAuditQuery,
    response=FormAuditResponse,
)
async def form_audit(request: web.Request) -> web.Response:
    q = parse_query(request, FormAuditQuery)
    where = audit.AuditFilter(principal(request).tenant_id, q.start, q.end, q.form_source,
                              q.status)  # fmt: skip
    cursors = request.app[AUDIT_CURSORS]
    before = None
    if q.cursor:
        try:
            before = cursors.load(q.cursor, where.fingerprint)
        except InvalidCursor as exc:
            raise RequestValidationError(
                [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
            ) from None
    page = await asyncio.to_thread(
        audit.query, request.app[DB], where, limit=q.limit, before=before,
        redactor=request.app[FORMS].redactor,
    )  # fmt: skip
    return json_model(FormAuditResponse(
        entries=[FormAuditEntry(**e) for e in page.entries], count=len(page.entries),
        next_cursor=cursors.dump(page.last, where.fingerprint) if page.last else None,
    ))  # fmt: skip
