"""Thin handlers: GET /v1/logs/routing (export), GET /v1/logs/stats, GET|PUT /v1/logs/retention."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web

from bridge.db import Database
from bridge.keyset_cursor import CursorSigner, InvalidCursor, Position
from bridge.logs import export, formats, retention, stats
from bridge.logs.models import (
    ExportQuery,
    LogStatsResponse,
    RetentionResponse,
    RetentionUpdate,
    RouteLogExport,
    StatsQuery,
)
from bridge.web.appkeys import DB, SETTINGS
from bridge.web.auth import principal
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import RequestValidationError
from bridge.web.ratelimit import enforce_large_export
from bridge.web.responses import json_model
from bridge.web.secret_key import secret_key
from bridge.web.validation import parse_body, parse_query

CURSOR_SIGNER = web.AppKey("route_log_cursor_signer", CursorSigner)
routes = EndpointTable(tags=("Logs",))


def setup(app: web.Application) -> None:
    app[CURSOR_SIGNER] = CursorSigner(
        secret_key(app[SETTINGS]), salt="bridge.route-log-export.v1",
        filter_names="from, to, pool, object, action",
    )  # fmt: skip
    routes.install(app)


def _filter(tenant_id: int, query: ExportQuery | StatsQuery) -> export.ExportFilter:
    return export.ExportFilter(
        tenant_id=tenant_id, start=query.start, end=query.end,
        pool=query.pool, object=query.object, action=query.action,
    )  # fmt: skip


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


@routes.get(
    "/v1/logs/routing",
    summary="Export route logs",
    description="Route logs of the caller's tenant in (timestamp, id) order, as JSON "
    "(`{success, entries, count, next_cursor}`) or CSV (the documented header; `diff` "
    "JSON-encoded). Both are streamed. When more rows follow, the JSON carries `next_cursor` "
    'and both formats send `X-Next-Cursor` and a `Link: <...>; rel="next"` header: repeat '
    "the request with `cursor=` to page past `limit` (max 10,000). Rate limits: 10/min, and "
    "2/min for pages of more than 5,000 rows.",
    area="logs",
    query=ExportQuery,
    response=RouteLogExport,
)
async def export_route_logs(request: web.Request) -> web.StreamResponse:
    caller = principal(request)
    query = parse_query(request, ExportQuery)
    where = _filter(caller.tenant_id, query)
    after: Position | None = None
    if query.cursor:
        try:
            after = request.app[CURSOR_SIGNER].load(query.cursor, where.fingerprint)
        except InvalidCursor as exc:
            raise RequestValidationError(
                [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
            ) from None
    db = request.app[DB]
    plan = await asyncio.to_thread(export.plan, db, where, after, query.limit)
    await enforce_large_export(request, plan.rows)
    next_cursor = (
        request.app[CURSOR_SIGNER].dump(plan.last, where.fingerprint)
        if plan.has_more and plan.last
        else None
    )
    response = web.StreamResponse(headers={"X-Export-Rows": str(plan.rows)})
    if next_cursor:
        response.headers["X-Next-Cursor"] = next_cursor
        next_url = request.rel_url.update_query(cursor=next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    if query.format == "csv":
        response.content_type = "text/csv"
        name = f"route-logs-{_day(query.from_)}-{_day(query.to)}.csv".replace(":", "")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        response.content_type = "application/json"
    response.charset = "utf-8"
    await response.prepare(request)
    await response.write(formats.csv_header() if query.format == "csv" else formats.JSON_PREFIX)
    try:
        written = await _stream_rows(response, db, where, after, plan, query)
        if query.format == "json":
            await response.write(formats.json_suffix(written, next_cursor))
    except Exception:
        # The 200 is already sent: the one honest signal left is closing the connection
        # without the terminating chunk, which the client's HTTP library reports as an
        # incomplete body. (The error middleware logs the error; its 500 cannot be sent.)
        if request.transport is not None:
            request.transport.close()
        raise
    await response.write_eof()
    return response


async def _stream_rows(
    response: web.StreamResponse,
    db: Database,
    where: export.ExportFilter,
    after: Position | None,
    plan: export.ExportPlan,
    query: ExportQuery,
) -> int:
    """Write the page's rows chunk by chunk; returns how many were written.

    Every page, the final one too, ends at the planned last row (the cursor already sent),
    not after plan.rows: a row committed inside the page since the plan makes it longer
    instead of pushing rows just before plan.last out of every page, and rows committed past
    plan.last never join it, so it holds at most plan.rows plus rows committed inside its key
    range. A short chunk means the range is exhausted; an empty plan reads nothing.
    """
    if plan.last is None:
        return 0
    written = 0
    position = after
    while True:
        rows = await asyncio.to_thread(
            export.chunk, db, where, position, plan.last, export.CHUNK_ROWS, query.include_diff
        )
        if rows:
            if query.format == "csv":
                await response.write(formats.csv_chunk(rows))
            else:
                await response.write(formats.json_entries(rows, first=written == 0))
            written += len(rows)
            position = export.position_of(rows[-1])
        if len(rows) < export.CHUNK_ROWS:
            break
    return written


@routes.get(
    "/v1/logs/stats",
    summary="Route log statistics",
    description="Counts by action, object, pool and assigned user over a period, the "
    "distribution of assignments over each pool's members, conversion and match rates, and "
    "per-day totals (calendar days of the tenant's time zone). Rate limit: 20/min.",
    area="stats",
    query=StatsQuery,
    response=LogStatsResponse,
)
async def log_stats(request: web.Request) -> web.Response:
    caller = principal(request)
    query = parse_query(request, StatsQuery)
    db = request.app[DB]
    policy = await asyncio.to_thread(retention.get_policy, db, caller.tenant_id)
    zone = retention.zone_of(policy.timezone).key
    result = await asyncio.to_thread(stats.statistics, db, _filter(caller.tenant_id, query), zone)
    return web.Response(
        body=result.model_dump_json(by_alias=True).encode(), content_type="application/json"
    )


def _retention_response(policy: retention.RetentionPolicy, hour: int) -> RetentionResponse:
    return RetentionResponse(
        retention_days=policy.retention_days,
        timezone=policy.timezone,
        cleanup_hour=hour,
        last_cleanup_at=policy.last_cleanup_at,
        last_cleanup_rows=policy.last_cleanup_rows,
        last_cleanup_cutoff=policy.last_cleanup_cutoff,
    )


@routes.get(
    "/v1/logs/retention",
    summary="Get the route-log retention policy",
    description="How long the tenant's route logs are kept (365 days by default, at most "
    "1095), the time zone of the daily cleanup, and how the last cleanup went. Rate limit: "
    "shared with the statistics (20/min), not the exports.",
    area="stats",  # not an export: never spends the 10/min export budget
    scope="logs",
    response=RetentionResponse,
)
async def get_retention(request: web.Request) -> web.Response:
    caller = principal(request)
    policy = await asyncio.to_thread(retention.get_policy, request.app[DB], caller.tenant_id)
    return json_model(_retention_response(policy, request.app[SETTINGS].log_cleanup_hour))


@routes.put(
    "/v1/logs/retention",
    summary="Set the route-log retention policy",
    description="`retention_days` 1..1095; optionally the IANA `timezone` whose cleanup hour "
    "(2 AM by default) starts the daily cleanup. Takes effect at the next cleanup. Any key "
    "with the `logs` scope may change it. Rate limit: shared with the statistics (20/min).",
    area="stats",
    scope="logs",
    body=RetentionUpdate,
    response=RetentionResponse,
)
async def put_retention(request: web.Request) -> web.Response:
    caller = principal(request)
    update = await parse_body(request, RetentionUpdate)
    policy = await asyncio.to_thread(
        retention.set_policy, request.app[DB], caller.tenant_id, update.retention_days,
        update.timezone,
    )  # fmt: skip
    return json_model(_retention_response(policy, request.app[SETTINGS].log_cleanup_hour))
