"""Thin handlers: POST /v1/triggers/salesforce, .../outbound, GET /v1/triggers/polling/status."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from aiohttp import web
from pydantic import ValidationError

from bridge.metrics import counters
from bridge.tenants.models import Principal
from bridge.triggers import outbound, store
from bridge.triggers.models import (
    PollingObjectStatus,
    PollingStatusResponse,
    TriggerRequest,
    TriggerResponse,
)
from bridge.triggers.service import Acceptance, OrgNotAllowed, RateLimited, TriggerService
from bridge.triggers.signatures import InvalidSignature
from bridge.web.appkeys import DB
from bridge.web.auth import principal
from bridge.web.charging import CREDITS_REMAINING
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError, RequestValidationError
from bridge.web.ratelimit import DECISION, RATE_LIMITER, RateDecision, rate_key, refusal
from bridge.web.request_id import REQUEST_ID
from bridge.web.responses import json_model

TRIGGERS = web.AppKey("triggers", TriggerService)
AREA = "triggers"
routes = EndpointTable(tags=("Triggers",))


def _org_refused(org_id: str) -> ApiError:
    return ApiError(403, "org_id does not belong to this tenant", details={"org_id": org_id})


async def _accept(request: web.Request, caller: Principal, **submission: object) -> Acceptance:
    """The service's accept with this caller's rate limit, which it applies in the same Redis
    round trip; the limit's headers (or the 429) come back from there."""
    limit = request.app[RATE_LIMITER].limit_for(AREA)
    try:
        acceptance = await request.app[TRIGGERS].accept(
            caller.tenant_id, rate_key=rate_key(AREA, caller.key_id), rate_limit=limit,
            request_id=request[REQUEST_ID], **submission,  # type: ignore[arg-type]
        )  # fmt: skip
    except RateLimited as exc:
        raise refusal(RateDecision.from_reply(limit, 0, *exc.accepted.rate)) from None
    remaining, reset_ms, retry_ms = acceptance.rate
    if limit > 0 and remaining >= 0:
        request[DECISION] = RateDecision.from_reply(limit, 1, remaining, reset_ms, retry_ms)
    request[CREDITS_REMAINING] = acceptance.credits_remaining
    return acceptance


@routes.post(
    "/v1/triggers/salesforce",
    summary="Salesforce trigger webhook",
    description="Accepts changed record ids from a Salesforce Platform Event / Apex callout. "
    "When the tenant has signing secrets, a Standard Webhooks signature over the raw body is "
    "required (`webhook-id`, `webhook-timestamp` within 300 s, `webhook-signature`). The ids "
    "are durably accepted and processed asynchronously; a repeated `webhook-id` is accepted "
    "once (`cached: true`, no charge).",
    area=AREA,
    limits_itself=True,
    credits="Lead 2, Contact 1, Account 3, Opportunity 1 credit(s) per record",
    body=TriggerRequest,
    response=TriggerResponse,
    responses={403: "org_id does not belong to the caller's tenant"},
)
async def salesforce_trigger(request: web.Request) -> web.Response:
    started = time.perf_counter()
    service = request.app[TRIGGERS]
    caller = principal(request)
    tenant_id = caller.tenant_id
    raw = await request.read()
    config = service.config.cached(tenant_id) or await service.config.get(tenant_id)
    try:
        webhook_id = config.verify_sender(raw, request.headers)
    except InvalidSignature as exc:
        raise ApiError(401, "Invalid webhook signature", details={"reason": str(exc)}) from None
    try:
        body = TriggerRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError.from_pydantic(exc, "body") from None
    try:
        config.check_org(body.org_id)
    except OrgNotAllowed:
        raise _org_refused(body.org_id) from None
    acceptance = await _accept(
        request, caller, sobject=body.object, ids=tuple(body.ids), event=body.event,
        org_id=body.org_id, source="webhook", dedupe_key=webhook_id,
    )  # fmt: skip
    if not acceptance.accepted.duplicate:
        counters.trigger_ids_accepted(body.object, "webhook", acceptance.ids)
    return json_model(
        TriggerResponse(
            success=True,
            processed_count=acceptance.ids,
            enrichment_jobs=[acceptance.accepted.job_id],
            workflow_status="queued",
            credits_consumed=acceptance.credits_consumed,
            credits_remaining=acceptance.credits_remaining,
            processing_time_ms=round((time.perf_counter() - started) * 1000, 3),
            cached=acceptance.accepted.duplicate,
        )
    )


@routes.post(
    "/v1/triggers/salesforce/outbound",
    summary="Salesforce Outbound Message",
    description="Receives a workflow Outbound Message (SOAP `notifications`, up to 100) and "
    "answers the SOAP `Ack` once the ids are accepted. Outbound Messages cannot set headers: "
    "pass the API key as `?key=`; only a key limited to the `triggers` scope is accepted there "
    "(403 otherwise).",
    area=AREA,
    limits_itself=True,
    credits="as POST /v1/triggers/salesforce",
    key_in_query=True,
    responses={403: "OrganizationId does not belong to the caller's tenant"},
)
async def salesforce_outbound(request: web.Request) -> web.Response:
    service = request.app[TRIGGERS]
    caller = principal(request)
    tenant_id = caller.tenant_id
    try:
        message = outbound.parse(await request.read())
    except outbound.InvalidOutboundMessage as exc:
        raise RequestValidationError(
            [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        ) from None
    try:
        (await service.config.get(tenant_id)).check_org(message.org_id)
    except OrgNotAllowed:
        raise _org_refused(message.org_id) from None
    for sobject, ids in message.records.items():
        acceptance = await _accept(
            request, caller, sobject=sobject, ids=tuple(ids), event="outbound_message",
            org_id=message.org_id, source="outbound", dedupe_key=f"{message.dedupe_key}:{sobject}",
        )  # fmt: skip
        if not acceptance.accepted.duplicate:
            counters.trigger_ids_accepted(sobject, "outbound", acceptance.ids)
    return web.Response(text=outbound.ACK, content_type="text/xml", charset="utf-8")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@routes.get(
    "/v1/triggers/polling/status",
    summary="Polling status",
    description="Where the SOQL watermark polling stands for the caller's tenant: the latest "
    "poll overall and a breakdown per object (lag, last error, loop-guard skips).",
    area="sync",
    response=PollingStatusResponse,
)
async def polling_status(request: web.Request) -> web.Response:
    tenant_id = principal(request).tenant_id

    def load() -> list[PollingObjectStatus]:
        with request.app[DB].read() as s:
            states = store.poll_states(s, tenant_id)
            return [PollingObjectStatus.from_state(state) for state in states]

    objects = await asyncio.to_thread(load)
    return json_model(PollingStatusResponse.summarise(objects))
