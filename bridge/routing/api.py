"""Thin handlers: POST /v1/routing/assign and the pool endpoints under /v1/routing/pools.

`setup(app)` installs the routes and opens the routing service in the app's cleanup_ctx
(after Redis and SQL): a sync Redis client, a lazily opened Salesforce gateway, a thread
pool for the blocking work, and the pools seed file.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import redis
from aiohttp import web

from bridge.routing import pools as pool_store
from bridge.routing.errors import (
    AssignmentNotLogged,
    IdempotencyKeyReused,
    NoMemberAvailable,
    NotAMember,
    OwnerNotWritten,
    RecordNotFound,
    SalesforceUnavailable,
)
from bridge.routing.models import (
    AssignRequest,
    AssignResponse,
    PoolDefinition,
    PoolList,
    PoolPath,
    PoolResponse,
    PoolSpec,
)
from bridge.routing.pools import PoolExists, PoolNotFound
from bridge.routing.rebuild import RebuildTimeout
from bridge.routing.rotation import state_key
from bridge.routing.seed import seed_file
from bridge.routing.service import Reset, RoutingService
from bridge.routing.tables import RoutingPool
from bridge.salesforce.errors import SalesforceError
from bridge.web.appkeys import DB, REDIS, SALESFORCE, SETTINGS
from bridge.web.auth import principal
from bridge.web.charging import CREDITS_CACHE, CREDITS_REMAINING, charge, refund_charge
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError, RequestValidationError
from bridge.web.idempotency import idempotency_key, idempotent
from bridge.web.request_id import REQUEST_ID
from bridge.web.responses import json_model
from bridge.web.validation import parse_body

T = TypeVar("T")
ROUTING = web.AppKey("routing", RoutingService)
ROUTING_POOL = web.AppKey("routing_threads", ThreadPoolExecutor)
routes = EndpointTable(tags=("Routing",))


def setup(app: web.Application) -> None:
    routes.install(app)
    app.cleanup_ctx.append(_routing)


async def _routing(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, max_connections=64)
    db = app[DB]
    app[ROUTING] = RoutingService(
        db,
        client,
        pools=pool_store.PoolCache(db, ttl=settings.routing_pool_cache_seconds),
        gateway=app[SALESFORCE],  # type: ignore[arg-type]
        memo_ttl=settings.routing_replay_days * 86400,
    )
    if app[ROUTING].active_users is not None:
        app[ROUTING].active_users.ttl = settings.routing_active_users_ttl_seconds
    app[ROUTING_POOL] = ThreadPoolExecutor(max_workers=32, thread_name_prefix="routing")
    await asyncio.to_thread(seed_file, db, settings.routing_pools_file)
    yield
    app[ROUTING_POOL].shutdown(wait=False, cancel_futures=True)
    client.close()


async def _blocking(request: web.Request, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run blocking service code on the routing threads, keeping the log context."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kw)
    return await asyncio.get_running_loop().run_in_executor(request.app[ROUTING_POOL], call)


def key_reused(exc: IdempotencyKeyReused) -> RequestValidationError:
    """422 as the HTTP idempotency layer answers a key reused with another request (here it
    outlived that layer's window, or came from another endpoint with the same pool)."""
    return RequestValidationError(
        [{"loc": ["header", "Idempotency-Key"], "msg": str(exc), "type": "idempotency_key_reused"}]
    )


def _api_error(exc: Exception) -> ApiError | RequestValidationError:
    if isinstance(exc, PoolNotFound):
        return ApiError(404, "Pool not found", details={"pool": exc.name})
    if isinstance(exc, NoMemberAvailable):
        return ApiError(409, str(exc), details=exc.details())
    if isinstance(exc, AssignmentNotLogged):
        return ApiError(409, str(exc), details=exc.details())
    if isinstance(exc, IdempotencyKeyReused):
        return key_reused(exc)
    if isinstance(exc, NotAMember):
        return RequestValidationError(
            [
                {
                    "loc": ["body", "reset_rules", "place_user_at_top"],
                    "msg": str(exc),
                    "type": "not_a_member",
                }
            ]
        )
    if isinstance(exc, RecordNotFound):
        return ApiError(
            404,
            "Record not found in Salesforce",
            details={"object": exc.sobject, "sf_id": exc.record_id},
        )
    if isinstance(exc, OwnerNotWritten):
        return ApiError(
            502,
            "Salesforce refused the new owner",
            details={"sf_id": exc.record_id, "codes": exc.codes, "message": str(exc)},
        )
    if isinstance(exc, SalesforceUnavailable):
        return ApiError(503, "Salesforce is not configured", retry_after=60)
    if isinstance(exc, SalesforceError | RebuildTimeout):
        code = getattr(exc, "error_code", None)
        return ApiError(
            503,
            "Salesforce or routing state unavailable, retry",
            details={"code": code},
            retry_after=5,
        )
    raise exc


@routes.post(
    "/v1/routing/assign",
    summary="Round robin assignment",
    description="Assigns a Salesforce record to the next available member of a pool (smooth "
    "weighted round robin, one atomic step) and writes the new OwnerId to Salesforce. Members "
    "who are inactive in Salesforce (`exclude_inactive`), out of office, outside their working "
    "hours or at a cap are skipped; when nobody can take it the answer is 409 with `reason` "
    "(paused, empty, nobody, pool_capped, top_unavailable) and who was skipped. The same record "
    "in the same pool (or the same `Idempotency-Key`) gets its original assignment back "
    "(`cached: true`, no charge) without advancing the rotation. `reset_rules.place_user_at_top` "
    "gives this record to that member outside the rotation; `reset_rules` without it resets the "
    "rotation's counters first. The reason is recorded in the route log.",
    area="sync",
    credits="1 credit per assignment; +1 with reset_rules; 0 when cached",
    body=AssignRequest,
    response=AssignResponse,
    responses={
        404: "Pool or record not found",
        409: "No member available (pool paused, empty, everyone away or capped), or the "
        "assignment's route log was refused (`details.reason`: sequence_taken, log_refused)",
        502: "Salesforce refused the new owner",
        503: "Salesforce unavailable",
    },
)
@idempotent
async def assign(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await parse_body(request, AssignRequest)
    tenant_id = principal(request).tenant_id
    service = request.app[ROUTING]
    key = idempotency_key(request)
    try:  # a retry is answered before charging and without calling Salesforce
        done = await _blocking(
            request, service.replay, tenant_id, body.sobject, body.sf_id, body.pool, key
        )
    except Exception as exc:
        raise _api_error(exc) from None
    cost = 2 if body.reset_rules else 1
    if done is not None:
        consumed, remaining = 0, await request.app[CREDITS_CACHE].get(tenant_id)
        request[CREDITS_REMAINING] = remaining
    else:
        spent = await charge(request, cost)
        reset = (
            Reset(body.reset_rules.reason, body.reset_rules.place_user_at_top)
            if body.reset_rules
            else None
        )
        try:
            done = await _blocking(
                request, service.assign, tenant_id, body.sobject, body.sf_id, body.pool,
                exclude_inactive=body.exclude_inactive, reset=reset, idempotency_key=key,
                request_id=request.get(REQUEST_ID),
            )  # fmt: skip
        except Exception as exc:
            await refund_charge(request, spent)
            raise _api_error(exc) from None
        consumed, remaining = cost, spent.remaining
        if done.cached:  # replayed inside the pick (a concurrent twin won the race)
            consumed, remaining = 0, await refund_charge(request, spent)
    return json_model(
        AssignResponse(
            success=True,
            assigned_to=done.assigned_to,
            sequence=done.sequence,
            pool_size=done.pool_size,
            timestamp=done.timestamp,
            credits_consumed=consumed,
            credits_remaining=remaining,
            processing_time_ms=round((time.perf_counter() - started) * 1000, 3),
            cached=done.cached,
        )
    )


# -- pools ------------------------------------------------------------------------------------
def _path(request: web.Request) -> str:
    try:
        return PoolPath.model_validate({"name": request.match_info["name"]}).name
    except Exception:
        raise ApiError(
            404, "Pool not found", details={"pool": request.match_info["name"]}
        ) from None


async def _response(request: web.Request, row: RoutingPool) -> PoolResponse:
    seq = await request.app[REDIS].hget(state_key(row.tenant_id, row.name), "seq")
    return PoolResponse(
        **pool_store.to_spec(row).model_dump(),
        sequence=int(seq or 0),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@routes.get(
    "/v1/routing/pools",
    summary="List round-robin pools",
    description="Every pool of the caller's tenant with its members and latest sequence number.",
    area="sync",
    response=PoolList,
)
async def list_pools(request: web.Request) -> web.Response:
    tenant_id = principal(request).tenant_id

    def load() -> list[RoutingPool]:
        with request.app[DB].session() as session:
            return pool_store.list_rows(session, tenant_id)

    rows = await _blocking(request, load)
    return json_model(PoolList(pools=[await _response(request, row) for row in rows]))


@routes.post(
    "/v1/routing/pools",
    summary="Create a round-robin pool",
    description="Members are Salesforce users (005...) with a weight (two decimals), optional "
    "caps per hour/day/month, a time zone, working hours and out-of-office periods. Free.",
    area="sync",
    body=PoolSpec,
    response=PoolResponse,
    status=201,
    responses={409: "A pool with this name exists"},
)
async def create_pool(request: web.Request) -> web.Response:
    spec = await parse_body(request, PoolSpec)
    tenant_id = principal(request).tenant_id

    def create() -> RoutingPool:
        with request.app[DB].session() as session:
            return pool_store.create(session, tenant_id, spec)

    try:
        row = await _blocking(request, create)
    except PoolExists:
        raise ApiError(409, "Pool already exists", details={"pool": spec.name}) from None
    request.app[ROUTING].pools.forget(tenant_id, spec.name)
    return json_model(await _response(request, row), status=201)


@routes.get(
    "/v1/routing/pools/{name}",
    summary="Get a round-robin pool",
    description="One pool's definition and latest sequence number.",
    area="sync",
    response=PoolResponse,
    responses={404: "Pool not found"},
)
async def get_pool(request: web.Request) -> web.Response:
    name = _path(request)
    tenant_id = principal(request).tenant_id

    def load() -> RoutingPool | None:
        with request.app[DB].session() as session:
            return pool_store.find(session, tenant_id, name)

    row = await _blocking(request, load)
    if row is None:
        raise ApiError(404, "Pool not found", details={"pool": name})
    return json_model(await _response(request, row))


@routes.put(
    "/v1/routing/pools/{name}",
    summary="Create or replace a round-robin pool",
    description="Replaces the pool's whole definition (members, weights, caps, hours, out of "
    "office, paused). The rotation keeps its state: members who stay keep their place.",
    area="sync",
    body=PoolDefinition,
    response=PoolResponse,
    responses={201: "Created"},
)
async def put_pool(request: web.Request) -> web.Response:
    name = _path(request)
    spec = await parse_body(request, PoolDefinition)
    tenant_id = principal(request).tenant_id

    def put() -> tuple[RoutingPool, bool]:
        with request.app[DB].session() as session:
            return pool_store.replace(session, tenant_id, name, spec)

    row, created = await _blocking(request, put)
    request.app[ROUTING].pools.forget(tenant_id, name)
    return json_model(await _response(request, row), status=201 if created else 200)


@routes.delete(
    "/v1/routing/pools/{name}",
    summary="Delete a round-robin pool",
    description="Deletes the pool. Its route logs stay; a pool created again under the same "
    "name continues its sequence numbers from them.",
    area="sync",
    status=204,
    responses={404: "Pool not found"},
)
async def delete_pool(request: web.Request) -> web.Response:
    name = _path(request)
    tenant_id = principal(request).tenant_id

    def delete() -> bool:
        with request.app[DB].session() as session:
            return pool_store.delete(session, tenant_id, name)

    if not await _blocking(request, delete):
        raise ApiError(404, "Pool not found", details={"pool": name})
    request.app[ROUTING].pools.forget(tenant_id, name)
    await request.app[REDIS].delete(state_key(tenant_id, name))
    return web.Response(status=204)
