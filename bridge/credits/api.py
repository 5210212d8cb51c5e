"""GET /v1/credits/usage and GET /v1/credits/remaining: thin handlers over the credits service."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bridge.credits import service
from bridge.credits.models import CreditUsageQuery, CreditUsageResponse, RemainingCreditsResponse
from bridge.credits.store import Tags
from bridge.web.appkeys import DB
from bridge.web.auth import principal
from bridge.web.charging import CREDITS_CACHE, CREDITS_REMAINING
from bridge.web.endpoints import EndpointTable
from bridge.web.responses import json_model
from bridge.web.validation import parse_query

routes = EndpointTable(tags=("Credits",))


@routes.get(
    "/v1/credits/usage",
    summary="Get credit usage",
    description="Credits used by the authenticated tenant between `start_date` and `end_date` "
    "(inclusive), optionally only for one workflow, workflow run or custom key/value. "
    "Refunded debits do not count.",
    area="credits",
    query=CreditUsageQuery,
    response=CreditUsageResponse,
)
async def get_credit_usage(request: web.Request) -> web.Response:
    query = parse_query(request, CreditUsageQuery)
    tenant_id = principal(request).tenant_id
    tags = Tags(query.workflow_id, query.workflow_run_id, query.custom_key, query.custom_value)
    used = await asyncio.to_thread(
        service.usage, request.app[DB], tenant_id, query.start_date, query.end_date, tags
    )
    return json_model(
        CreditUsageResponse(
            tenant_id=tenant_id,
            start_date=query.start_date,
            end_date=query.end_date,
            credits_used=used,
        )
    )


@routes.get(
    "/v1/credits/remaining",
    summary="Get remaining credits",
    description="The authenticated tenant's current balance and total credits granted. The "
    "balance includes credits prepaid into the tenant's trigger-ingest lease and not yet spent.",
    area="credits",
    response=RemainingCreditsResponse,
)
async def get_remaining_credits(request: web.Request) -> web.Response:
    tenant_id = principal(request).tenant_id
    balance = await asyncio.to_thread(service.balance, request.app[DB], tenant_id)
    remaining = balance.remaining + await request.app[CREDITS_CACHE].held(tenant_id)
    request[CREDITS_REMAINING] = remaining  # the header agrees with the body
    return json_model(
        RemainingCreditsResponse(
            tenant_id=tenant_id,
            remaining_credits=remaining,
            total_credits=balance.total,
        )
    )
