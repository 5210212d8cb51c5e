"""Charging a request's tenant, and `X-Credits-Remaining` on every authenticated response.

A paid handler does:

    spent = await charge(request, 5, tags=Tags(workflow_id=body.workflow_id))
    try:
        result = await do_the_work()
    except Exception:
        await refund_charge(request, spent)
        raise

`charge` is the guarded reserve-and-debit of `bridge.credits.service` run in a worker thread;
an unpayable request becomes a 402 with `credits_required` and `credits_remaining`.

The header comes from the exact balance after this request's debit when there was one, else
from `RemainingCache` (per process, a few seconds old at most): no SQL on the hot path.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import structlog
from aiohttp import web

from bridge.credits.service import (
    Debit,
    InsufficientCredits,
    RemainingCache,
    adebit,
    arefund,
    debit_up_to,
)
from bridge.credits.store import NO_TAGS, Tags
from bridge.web.appkeys import DB
from bridge.web.auth import PRINCIPAL, principal
from bridge.web.errors import ApiError
from bridge.web.request_id import REQUEST_ID

log = structlog.get_logger(__name__)

CREDITS_CACHE = web.AppKey("credits_cache", RemainingCache)
CREDITS_REMAINING = web.RequestKey("credits_remaining", int)


def insufficient(exc: InsufficientCredits) -> ApiError:
    return ApiError(
        402,
        "Insufficient credits",
        details={"credits_required": exc.required, "credits_remaining": exc.remaining},
        credits_required=exc.required,
        credits_remaining=exc.remaining,
    )


async def charge(
    request: web.Request,
    amount: int,
    endpoint: str | None = None,
    tags: Tags = NO_TAGS,
) -> Debit:
    """Debit the caller's tenant `amount` credits for this request, or answer 402."""
    caller = principal(request)
    try:
        spent = await adebit(
            request.app[DB], caller.tenant_id, amount, endpoint or _endpoint(request), tags,
            request_id=request.get(REQUEST_ID),
        )  # fmt: skip
    except InsufficientCredits as exc:
        await note_remaining(request, caller.tenant_id, exc.remaining)
        # The body keeps the SQL balance: credits parked in the ingest lease cannot pay this.
        raise insufficient(exc) from None
    return await note_debit(request, spent)


async def charge_up_to(request: web.Request, amount: int) -> Debit:
    """`charge` `amount`, or what the tenant's SQL balance has left when that is less (0 when
    it is empty: never a 402), for work already done. One transaction, at most one ledger
    line."""
    caller = principal(request)
    spent = await asyncio.to_thread(
        debit_up_to, request.app[DB], caller.tenant_id, amount, _endpoint(request),
        request_id=request.get(REQUEST_ID),
    )  # fmt: skip
    return await note_debit(request, spent)


def _endpoint(request: web.Request) -> str:
    return f"{request.method} {request.match_info.route.resource.canonical}"  # type: ignore[union-attr]


async def refund_charge(request: web.Request, spent: Debit) -> int:
    if spent.amount == 0:  # nothing to give back; `remaining` is already as reported
        return spent.remaining
    remaining = await arefund(request.app[DB], spent)
    return await note_remaining(request, spent.tenant_id, remaining)


async def note_remaining(request: web.Request, tenant_id: int, sql_remaining: int) -> int:
    """Cache the SQL balance; report (and return) it with the tenant's ingest lease. `charge`
    and `refund_charge` do this; a handler whose service debits on its own calls it (or
    `note_debit`) with the balance the service saw."""
    cache = request.app[CREDITS_CACHE]
    cache.put(tenant_id, sql_remaining)
    request[CREDITS_REMAINING] = reported = await cache.with_lease(tenant_id, sql_remaining)
    return reported


async def note_debit(request: web.Request, spent: Debit) -> Debit:
    """For services that debit on their own (forms, workflows): the same reporting as `charge`."""
    return replace(spent, remaining=await note_remaining(request, spent.tenant_id, spent.remaining))


async def add_credits_header(request: web.Request, response: web.StreamResponse) -> None:
    """Part of the `on_response_prepare` hook: every authenticated response says what the
    tenant has left."""
    caller = request.get(PRINCIPAL)
    if caller is None or "X-Credits-Remaining" in response.headers:
        return
    remaining = request.get(CREDITS_REMAINING)
    if remaining is None:
        try:
            remaining = await request.app[CREDITS_CACHE].get(caller.tenant_id)
        except Exception as exc:  # a header is not worth failing the response for
            log.warning("credits balance unavailable", error=type(exc).__name__)
            return
    response.headers["X-Credits-Remaining"] = str(remaining)
