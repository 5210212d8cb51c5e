"""Thin handler: POST /v1/match."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import redis
from aiohttp import web

from bridge.matching.ai import AiError, AiNotConfigured
from bridge.matching.factory import build_service
from bridge.matching.models import CandidateResult, MatchItem, MatchRequest, MatchResponse
from bridge.matching.rules import default_rules, parse_rules
from bridge.matching.service import CREDITS_PER_CANDIDATE, IndexUnavailable, MatchService
from bridge.web.appkeys import DB, SALESFORCE, SETTINGS
from bridge.web.auth import principal
from bridge.web.charging import charge, refund_charge
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError
from bridge.web.responses import json_model
from bridge.web.validation import parse_body

MATCHING = web.AppKey("matching", MatchService)


class MatchingEndpoints(EndpointTable):
    def install(self, app: web.Application) -> None:
        super().install(app)
        app.cleanup_ctx.append(_matching)


routes = MatchingEndpoints(tags=("Match",))


async def _matching(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    app[MATCHING], _store = build_service(settings, client, app[DB], app[SALESFORCE])
    yield
    client.close()


@routes.post(
    "/v1/match",
    summary="Match objects",
    description="Matches candidates against the tenant's Salesforce Accounts, Contacts or "
    "Leads (a per-tenant index kept current by the pipeline and polling) with exact, fuzzy, "
    "grouped boolean or AI-assisted rules; each match carries a score, a confidence, the rules "
    "that fired and a plain-language explanation, best first.",
    area="sync",
    credits="Simple mode 1, grouped mode 2, AI mode 5 credits per candidate",
    body=MatchRequest,
    response=MatchResponse,
    responses={
        400: "AI mode requested but no AI endpoint is configured",
        402: "Insufficient credits, or max_credits below the cost of one candidate",
        403: "context.org_id does not belong to the caller",
        409: "No match index for this tenant (no connected Salesforce org)",
        502: "The AI endpoint failed",
    },
)
async def match(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await parse_body(request, MatchRequest)
    tenant_id = principal(request).tenant_id
    service = request.app[MATCHING]
    rules = parse_rules(body.rules, default=default_rules(body.object))
    if rules.mode == "ai":
        try:
            service.ai_client()
        except AiNotConfigured as exc:
            raise ApiError(
                400, "AI matching is not configured", details={"reason": str(exc)}
            ) from None
    await _check_org(request, body, tenant_id)
    try:
        await asyncio.to_thread(service.index_for, tenant_id)
    except IndexUnavailable as exc:
        raise ApiError(409, "Match index unavailable", details={"reason": str(exc)}) from None
    cost = CREDITS_PER_CANDIDATE[rules.mode]
    affordable = len(body.candidates)
    if body.max_credits is not None:
        affordable = min(affordable, body.max_credits // cost)
        if affordable == 0:
            raise ApiError(
                402, "max_credits is below the cost of one candidate",
                details={"max_credits": body.max_credits, "credits_per_candidate": cost},
                credits_required=cost,
            )  # fmt: skip
    spent = await charge(request, cost * affordable)
    try:
        outcomes = await asyncio.to_thread(
            service.match, tenant_id, body.object, body.candidates[:affordable], rules
        )
    except AiError as exc:
        await refund_charge(request, spent)
        raise ApiError(502, "AI matching failed", details={"reason": str(exc)}) from None
    except BaseException:
        await refund_charge(request, spent)
        raise
    results = []
    for i, candidate in enumerate(body.candidates):
        cid = candidate.get("id") or candidate.get("Id")
        outcome = outcomes[i] if i < affordable else None
        items = [
            MatchItem(sf_id=m.id, object=m.object, score=m.score, confidence=m.confidence,
                      rules_fired=list(m.rules_fired), explanation=m.explanation)
            for m in (outcome.matches if outcome else [])
        ]  # fmt: skip
        results.append(
            CandidateResult(
                index=i,
                candidate_id=None if cid is None else str(cid),
                mode=rules.mode,
                matched=bool(items),
                matches=items,
                skipped=outcome is None,
                credits_consumed=cost if outcome is not None else 0,
            )
        )
    return json_model(
        MatchResponse(
            success=True,
            results=results,
            credits_consumed=spent.amount,
            credits_remaining=spent.remaining,
            processing_time_ms=round((time.perf_counter() - started) * 1000, 3),
            cached=False,
        )
    )


async def _check_org(request: web.Request, body: MatchRequest, tenant_id: int) -> None:
    org_id = (body.context or {}).get("org_id")
    if not org_id:
        return
    from bridge.tenants.service import tenant_for_org

    owner = await asyncio.to_thread(tenant_for_org, request.app[DB], str(org_id))
    if owner != tenant_id:
        raise ApiError(
            403, "context.org_id does not belong to this tenant", details={"org_id": org_id}
        )
