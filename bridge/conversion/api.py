"""Thin handler: POST /v1/salesforce/convert.

`routes.install(app)` also opens the conversion service in the app's cleanup_ctx, after the
routing and matching services it reuses (install it after them in bridge/routes.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import redis
from aiohttp import web

from bridge.conversion.factory import build_service, policy_from_request
from bridge.conversion.models import Action, ConvertRequest, ConvertResponse
from bridge.conversion.plan import (
    MATCHING_CREDITS,
    ConversionUnavailable,
    LeadNotFound,
    Outcome,
    Policy,
)
from bridge.conversion.service import ConversionService
from bridge.matching.api import MATCHING
from bridge.routing.api import ROUTING, key_reused
from bridge.routing.errors import IdempotencyKeyReused, NoMemberAvailable
from bridge.routing.pools import PoolNotFound
from bridge.routing.rebuild import RebuildTimeout
from bridge.salesforce.errors import SalesforceError
from bridge.web.appkeys import DB, SALESFORCE, SETTINGS
from bridge.web.auth import principal
from bridge.web.charging import charge, refund_charge
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError, RequestValidationError
from bridge.web.idempotency import idempotency_key, idempotent
from bridge.web.request_id import REQUEST_ID
from bridge.web.responses import json_model
from bridge.web.validation import parse_body

CONVERSION = web.AppKey("conversion", ConversionService)


class ConversionEndpoints(EndpointTable):
    def install(self, app: web.Application) -> None:
        super().install(app)
        app.cleanup_ctx.append(_conversion)


routes = ConversionEndpoints(tags=("Salesforce",))


async def _conversion(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    app[CONVERSION] = build_service(
        app[DB], app[SALESFORCE], app.get(MATCHING), app.get(ROUTING),
        client=client, refresh=settings.conversion_refresh_index,
    )  # fmt: skip
    yield
    client.close()


def _api_error(exc: Exception) -> ApiError | RequestValidationError:
    if isinstance(exc, IdempotencyKeyReused):
        return key_reused(exc)
    if isinstance(exc, LeadNotFound):
        return ApiError(404, "Lead not found in Salesforce", details={"lead_sf_id": exc.lead_id})
    if isinstance(exc, PoolNotFound):
        return ApiError(404, "Pool not found", details={"pool": exc.name})
    if isinstance(exc, NoMemberAvailable):
        return ApiError(409, str(exc), details=exc.details())
    if isinstance(exc, ConversionUnavailable):
        return ApiError(409, "Conversion unavailable", details={"reason": str(exc)})
    if isinstance(exc, SalesforceError | RebuildTimeout):
        code = getattr(exc, "error_code", None)
        return ApiError(503, "Salesforce unavailable, retry", details={"code": code},
                        retry_after=5)  # fmt: skip
    raise exc


def _earned(policy: Policy, outcome: Outcome) -> int:
    """Credits for the work done: all when converted; the pre-check's when it ran but the
    lead stayed unconverted; nothing for a duplicate (only a read)."""
    if outcome.status == "converted":
        return policy.cost
    if outcome.status == "failed" and outcome.matched:
        return MATCHING_CREDITS
    return 0


@routes.post(
    "/v1/salesforce/convert",
    summary="Convert a lead with duplicate prevention",
    description="Converts a Salesforce Lead into a Contact and Account through convertLead. "
    "With `match_policy` the lead's own fields are first matched against existing Contacts and "
    "Accounts (the /v1/match rules language); a match the merge policy accepts is the record "
    "the lead converts into, never beside. `create_if_no_match: false` with no match leaves "
    "the lead unconverted (`status: failed`, the reason in `actions`). "
    "`set_owner_round_robin_pool` picks the owner from a round-robin pool. An already "
    "converted lead answers `status: duplicate` with its existing ids. Every conversion and "
    "merge writes a route log with the field diff. Idempotent on `Idempotency-Key`.",
    area="sync",
    credits="3 per lead; +2 with match_policy (unless both sides are null); +1 with "
    "set_owner_round_robin_pool. A lead left "
    "unconverted pays only the pre-check (2); a duplicate pays nothing.",
    body=ConvertRequest,
    response=ConvertResponse,
    responses={
        404: "Lead or pool not found",
        409: "No pool member available, or no Salesforce org / match index for this tenant",
        503: "Salesforce unavailable",
    },
)
@idempotent
async def convert(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await parse_body(request, ConvertRequest)
    tenant_id = principal(request).tenant_id
    service = request.app[CONVERSION]
    policy = policy_from_request(
        body, create_opportunity=request.app[SETTINGS].conversion_create_opportunity
    )
    try:  # cheap checks before charging
        await asyncio.to_thread(service.ensure_org, tenant_id)
        await asyncio.to_thread(service.check_pool, tenant_id, policy)
    except Exception as exc:
        raise _api_error(exc) from None
    spent = await charge(request, policy.cost)
    try:
        outcome = await asyncio.to_thread(
            service.convert, tenant_id, body.lead_sf_id, policy,
            idempotency_key=idempotency_key(request), request_id=request.get(REQUEST_ID),
        )  # fmt: skip
    except Exception as exc:
        await refund_charge(request, spent)
        raise _api_error(exc) from None
    earned = _earned(policy, outcome)
    remaining = spent.remaining
    if earned < spent.amount:
        remaining = await refund_charge(
            request, dataclasses.replace(spent, amount=spent.amount - earned)
        )
    return json_model(
        ConvertResponse(
            success=outcome.success,
            status=outcome.status,  # type: ignore[arg-type]
            account_id=outcome.account_id,
            contact_id=outcome.contact_id,
            owner_id=outcome.owner_id,
            actions=[Action.model_validate(a) for a in outcome.actions],
            credits_consumed=earned,
            credits_remaining=remaining,
            processing_time_ms=round((time.perf_counter() - started) * 1000, 3),
            cached=False,
        )
    )
