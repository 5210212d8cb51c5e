"""Route-log export speed: 10,000 rows out of 1,000,000 in PostgreSQL, through the real endpoint.

Builds a throwaway PostgreSQL database (127.0.0.1:5432, BRIDGE_TEST_POSTGRES_URL to change),
migrates it, loads 1,000,000 route logs spread over a year for one tenant, and serves the real
app over HTTP on localhost. Measured in the same run:

  streamed   GET /v1/logs/routing, limit=10000, JSON and CSV, unfiltered and by action/pool
  naive      the same 10,000 rows read as ORM objects and answered as one json_response
  unindexed  the streamed export again after dropping the route-log indexes (primary key kept)

Each figure is the median of 5 timed requests (after one warm-up), body fully read by the client.
Prints one JSON line per result and a summary with ratios; the goal is under 1 s per export.

    .venv/bin/python benchmarks/logs_export.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import redis_server, report
from bridge.app import create_app
from bridge.db import Database
from bridge.db.migrate import upgrade
from bridge.logs.tables import RouteLog
from bridge.tenants import service as tenants
from bridge.web.appkeys import DB
from config.logging import configure_logging
from config.settings import Settings

ADMIN_URL = os.environ.get(
    "BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPEATS = 5
LIMIT = 10_000
# A 90-day window holds about 246,000 of the 1,000,000 rows: each export reads the first 10,000.
WINDOW = {"from": "2025-03-01", "to": "2025-05-29"}
EXPORT_INDEXES = (
    "ix_route_logs_tenant_id_timestamp_id",
    "ix_route_logs_tenant_id_action_timestamp_id",
    "ix_route_logs_tenant_id_pool_timestamp_id",
    "ix_route_logs_tenant_id_object_timestamp_id",
    "ix_route_logs_tenant_id_object_object_id",
)

LOAD = """
INSERT INTO route_logs (tenant_id, timestamp, object, object_id, action, pool, assigned_to,
                        prev_owner, sequence, reason, request_id, idempotency_key, diff)
SELECT :tenant,
       timestamptz '2025-01-01 00:00:00+00' + (i * (31536000.0 / :rows)) * interval '1 second',
       (ARRAY['Lead','Lead','Contact','Account'])[1 + i % 4],
       '00Q' || lpad(i::text, 12, '0'),
       (ARRAY['assign','assign','assign','convert','enrich','match','merge','skip'])[1 + i % 8],
       CASE WHEN i % 8 < 3 THEN (ARRAY['inbound','enterprise','smb'])[1 + i % 3] END,
       CASE WHEN i % 8 < 3 THEN '0055g0000' || lpad((i % 40)::text, 6, '0') END,
       '0055g0000' || lpad((i % 37)::text, 6, '0'),
       CASE WHEN i % 8 < 3 THEN i END,
       'round robin, weight ' || (i % 5),
       md5(i::text),
       CASE WHEN i % 3 = 0 THEN 'idem-' || i END,
       CASE WHEN i % 2 = 0 THEN jsonb_build_object(
           'Company', jsonb_build_object('old', 'Acme, "Inc"', 'new', 'Acme Holdings'),
           'Rating', jsonb_build_object('old', NULL, 'new', 'Hot')) END
FROM generate_series(1, :rows) AS i
"""


def create_database() -> str:
    name = f"bench_logs_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


async def naive_export(request: web.Request) -> web.Response:
    """The baseline: every row as an ORM object, the whole body built in memory."""
    query = (
        sa.select(RouteLog)
        .where(
            RouteLog.tenant_id == int(request.query["tenant"]),
            RouteLog.timestamp >= sa.literal("2025-03-01T00:00:00+00:00").cast(sa.DateTime(True)),
        )
        .order_by(RouteLog.timestamp, RouteLog.id)
        .limit(LIMIT)
    )

    def load() -> list[dict[str, Any]]:
        with request.app[DB].session() as session:
            return [
                {
                    "timestamp": r.timestamp.isoformat(), "object": r.object,
                    "object_id": r.object_id, "action": r.action, "pool": r.pool,
                    "assigned_to": r.assigned_to, "prev_owner": r.prev_owner,
                    "sequence": r.sequence, "reason": r.reason, "request_id": r.request_id,
                    "idempotency_key": r.idempotency_key, "diff": r.diff,
                }
                for r in session.scalars(query)
            ]  # fmt: skip

    entries = await asyncio.to_thread(load)
    return web.json_response({"success": True, "entries": entries, "count": len(entries)})


async def timed(session: aiohttp.ClientSession, url: str, params: dict[str, Any]) -> dict[str, Any]:
    runs = []
    size = 0
    for attempt in range(REPEATS + 1):
        started = time.perf_counter()
        async with session.get(url, params=params) as resp:
            body = await resp.read()
            assert resp.status == 200, body[:300]
            exported = resp.headers.get("X-Export-Rows") or str(json.loads(body)["count"])
            assert int(exported) == LIMIT, f"{url} exported {exported} rows"
        if attempt:  # the first is a warm-up
            runs.append((time.perf_counter() - started) * 1000)
        size = len(body)
    return {"median_ms": round(statistics.median(runs), 1), "max_ms": round(max(runs), 1),
            "bytes": size}  # fmt: skip


async def measure(base: str, key: str, tenant_id: int, db: Database) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        cases = {
            "streamed_json": {"format": "json"},
            "streamed_csv": {"format": "csv"},
            "streamed_json_action": {"format": "json", "action": "assign"},
            "streamed_json_pool": {"format": "json", "pool": "enterprise"},
        }
        for name, extra in cases.items():
            results[name] = await timed(session, "/v1/logs/routing",
                                        {**WINDOW, "limit": LIMIT, **extra})  # fmt: skip
            report(f"logs_export.{name}", rows=LIMIT, **results[name])
        results["naive_json"] = await timed(session, "/bench/naive", {"tenant": tenant_id})
        report("logs_export.naive_json", rows=LIMIT, **results["naive_json"])
        with db.engine.begin() as conn:
            for index in EXPORT_INDEXES:
                conn.execute(sa.text(f"DROP INDEX {index}"))
        for name in ("streamed_json", "streamed_json_action"):
            unindexed = await timed(session, "/v1/logs/routing",
                                    {**WINDOW, "limit": LIMIT, **cases[name]})  # fmt: skip
            results[f"unindexed_{name}"] = unindexed
            report(f"logs_export.unindexed_{name}", rows=LIMIT, **unindexed)
    return results


async def main(rows: int) -> None:
    url = create_database()
    try:
        upgrade(url)
        db = Database(url)
        created = tenants.create_key(db, "bench")
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(sa.text(LOAD), {"tenant": created.tenant_id, "rows": rows})
            conn.execute(sa.text("ANALYZE route_logs"))
        report("logs_export.load", rows=rows, seconds=round(time.perf_counter() - started, 1))
        with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
            settings = Settings(
                _env_file=None, environment="production", log_level="WARNING",
                data_dir=Path(tmp) / "data", redis_url=redis_url, database_url=url,
                rate_limit_logs_per_min=0, rate_limit_logs_large_per_min=0,
            )  # type: ignore[call-arg]  # fmt: skip
            configure_logging(settings)
            app = create_app(settings)
            app.router.add_get("/bench/naive", naive_export)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            try:
                base = f"http://127.0.0.1:{server.port}"
                results = await measure(base, created.key, created.tenant_id, db)
            finally:
                await server.close()
        db.dispose()
        best = results["streamed_json"]["median_ms"]
        summary = {
            "rows_in_table": rows,
            "rows_exported": LIMIT,
            "streamed_json_ms": best,
            "streamed_csv_ms": results["streamed_csv"]["median_ms"],
            "naive_over_streamed": round(results["naive_json"]["median_ms"] / best, 2),
            "unindexed_over_indexed": round(
                results["unindexed_streamed_json"]["median_ms"] / best, 2
            ),
            "unindexed_over_indexed_action": round(
                results["unindexed_streamed_json_action"]["median_ms"]
                / results["streamed_json_action"]["median_ms"],
                2,
            ),
            "goal_under_1s": all(
                results[n]["median_ms"] < 1000
                for n in (
                    "streamed_json",
                    "streamed_csv",
                    "streamed_json_action",
                    "streamed_json_pool",
                )
            ),
        }
        print(json.dumps({"benchmark": "logs_export.summary", **summary}), flush=True)
    finally:
        drop_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().rows))
