"""GET /v1/logs/routing through the real app on SQLite and PostgreSQL: filters, both formats,
CSV escaping, the 10,000-row limit, the cursor, and the documented rate limits."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert

from bridge.app import create_app
from bridge.db import Database
from bridge.logs import export
from bridge.logs.formats import FIELDS
from bridge.logs.service import record_action
from bridge.logs.tables import RouteLog
from bridge.tenants import service as tenants
from config.settings import Settings

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TRICKY_DIFF = {
    "Company": {"old": 'Acme, "Inc"', "new": "Acme\nHoldings, Ltd."},
    "Note": 'line1\r\nline2, "quoted"',
}


@pytest.fixture
def settings_any(tmp_path: Path, redis_url: str, any_database_url: str) -> Settings:
    return Settings(
        environment="test", data_dir=tmp_path / "data", redis_url=redis_url,
        database_url=any_database_url,
    )  # fmt: skip


@pytest.fixture
def db_any(settings_any: Settings) -> Any:
    database = Database.from_settings(settings_any)
    yield database
    database.dispose()


def seed(db: Database, tenant_id: int) -> list[dict[str, Any]]:
    """24 rows over 4 days: every action, two pools, three objects; returned in export order."""
    plan = [
        ("assign", "Lead", "inbound", "0055g00000AAAAA"),
        ("convert", "Lead", None, None),
        ("merge", "Account", None, None),
        ("enrich", "Contact", None, None),
        ("assign", "Lead", "enterprise", "0055g00000BBBBB"),
        ("match", "Lead", None, None),
        ("skip", "Contact", None, None),
        ("error", "Lead", None, None),
    ]
    rows = []
    with db.session() as s:
        for n in range(24):
            action, sobject, pool, user = plan[n % len(plan)]
            when = T0 + timedelta(hours=4 * n)
            diff = (
                TRICKY_DIFF
                if n == 3
                else ({"Rating": {"old": None, "new": "Hot"}} if n % 2 else None)
            )
            record_action(
                s, tenant_id=tenant_id, object=sobject, object_id=f"00Q5g0000{n:06d}",
                action=action, pool=pool, assigned_to=user,
                prev_owner="0055g00000ZZZZZ" if action in ("assign", "convert") else None,
                sequence=n if action == "assign" else None,
                reason=f"rule {n}, \"round robin\"" if action == "assign" else f"reason {n}",
                diff=diff, request_id=f"req-{n}",
                idempotency_key=f"idem-{n}" if n % 3 == 0 else None,
                timestamp=when,
            )  # fmt: skip
            rows.append({"n": n, "action": action, "object": sobject, "pool": pool, "when": when})
    return rows


@pytest.fixture
async def api(aiohttp_client: Any, settings_any: Settings, db_any: Database) -> dict[str, Any]:
    mine = tenants.create_key(db_any, "acme")
    other = tenants.create_key(db_any, "globex")
    seeded = seed(db_any, mine.tenant_id)
    seed(db_any, other.tenant_id)  # never visible to acme
    # Functional tests run many exports; the documented limits get their own tests below.
    roomy = settings_any.model_copy(
        update={"rate_limit_logs_per_min": 10_000, "rate_limit_logs_large_per_min": 10_000}
    )
    client: TestClient = await aiohttp_client(create_app(roomy))
    return {
        "client": client, "rows": seeded, "db": db_any,
        "headers": {"Authorization": f"Bearer {mine.key}"}, "tenant_id": mine.tenant_id,
    }  # fmt: skip


async def get(api: dict[str, Any], **params: Any) -> Any:
    query = {"from": "2025-03-01", "to": "2025-03-31", **params}
    return await api["client"].get("/v1/logs/routing", params=query, headers=api["headers"])


async def test_json_export_has_every_documented_field_in_order(api) -> None:
    resp = await get(api)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    data = await resp.json()
    assert set(data) == {"success", "entries", "count", "next_cursor"}
    assert data["success"] is True and data["count"] == 24 and data["next_cursor"] is None
    entries = data["entries"]
    assert list(entries[0]) == list(FIELDS)
    assert [e["object_id"] for e in entries] == [f"00Q5g0000{n:06d}" for n in range(24)]
    first = entries[0]
    assert first["timestamp"] == "2025-03-01T09:00:00.000000Z"
    assert first["action"] == "assign" and first["pool"] == "inbound"
    assert first["assigned_to"] == "0055g00000AAAAA" and first["prev_owner"] == "0055g00000ZZZZZ"
    assert first["sequence"] == 0 and first["request_id"] == "req-0"
    assert first["idempotency_key"] == "idem-0" and first["reason"] == 'rule 0, "round robin"'
    assert entries[3]["diff"] == TRICKY_DIFF
    assert entries[1]["diff"] == {"Rating": {"old": None, "new": "Hot"}}


FILTER_CASES = [
    ({"pool": "inbound"}, lambda r: r["pool"] == "inbound"),
    ({"pool": "enterprise"}, lambda r: r["pool"] == "enterprise"),
    ({"object": "Contact"}, lambda r: r["object"] == "Contact"),
    ({"object": "Opportunity"}, lambda r: False),
    ({"action": "assign"}, lambda r: r["action"] == "assign"),
    ({"action": "convert"}, lambda r: r["action"] == "convert"),
    ({"action": "merge"}, lambda r: r["action"] == "merge"),
    ({"action": "enrich"}, lambda r: r["action"] == "enrich"),
    ({"action": "match"}, lambda r: r["action"] == "match"),
    ({"action": "skip"}, lambda r: r["action"] == "skip"),
    ({"action": "error"}, lambda r: r["action"] == "error"),
    ({"action": "assign", "pool": "inbound", "object": "Lead"}, lambda r: r["pool"] == "inbound"),
    # Inclusive bounds; a bare `to` date covers that whole day.
    ({"from": "2025-03-02", "to": "2025-03-02"}, lambda r: r["when"].date().day == 2),
    (
        {"from": "2025-03-01T13:00:00Z", "to": "2025-03-01T21:00:00+00:00"},
        lambda r: T0 + timedelta(hours=4) <= r["when"] <= T0 + timedelta(hours=12),
    ),
    # A naive datetime is UTC; an offset is honoured.
    (
        {"from": "2025-03-01T10:00:00+01:00", "to": "2025-03-01T13:00:00"},
        lambda r: r["n"] in (0, 1),
    ),
]


async def test_each_filter(api) -> None:
    for params, expected in FILTER_CASES:
        for fmt in ("json", "csv"):
            resp = await get(api, format=fmt, **params)
            assert resp.status == 200, (params, await resp.text())
            want = [f"00Q5g0000{r['n']:06d}" for r in api["rows"] if expected(r)]
            if fmt == "json":
                data = await resp.json()
                got = [e["object_id"] for e in data["entries"]]
                assert data["count"] == len(want)
            else:
                got = [r["object_id"] for r in csv.DictReader(io.StringIO(await resp.text()))]
            assert got == want, (params, fmt)


async def test_include_diff_false_and_limit(api) -> None:
    data = await (await get(api, include_diff="false", limit=5)).json()
    assert data["count"] == 5 and all(e["diff"] is None for e in data["entries"])
    text = await (await get(api, include_diff="false", format="csv")).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 24 and all(r["diff"] == "" for r in rows)


async def test_csv_header_and_escaping_of_diffs(api) -> None:
    resp = await get(api, format="csv")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    text = await resp.text()
    assert text.startswith(
        "timestamp,object,object_id,action,pool,assigned_to,prev_owner,sequence,reason,"
        "request_id,idempotency_key,diff\r\n"
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(FIELDS) and len(rows) == 25
    tricky = rows[4]
    assert tricky[2] == "00Q5g0000000003"
    assert json.loads(tricky[11]) == TRICKY_DIFF  # commas, quotes, \n and \r\n survive
    assert rows[1][8] == 'rule 0, "round robin"' and rows[1][7] == "0"
    assert rows[2][4] == "" and rows[2][7] == ""  # None is an empty field
    # The same rows as the JSON export, field for field.
    data = await (await get(api)).json()
    for line, entry in zip(rows[1:], data["entries"], strict=True):
        expected = ["" if entry[f] is None else str(entry[f]) for f in FIELDS[:-1]]
        assert line[:-1] == expected
        assert (json.loads(line[11]) if line[11] else None) == entry["diff"]


async def test_cursor_pages_through_without_gaps_or_repeats(api) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 10}
        if cursor:
            params["cursor"] = cursor
        resp = await get(api, **params)
        data = await resp.json()
        assert resp.status == 200, data
        pages += 1
        seen += [e["object_id"] for e in data["entries"]]
        cursor = data["next_cursor"]
        if cursor is None:
            assert "X-Next-Cursor" not in resp.headers
            break
        assert resp.headers["X-Next-Cursor"] == cursor
        assert 'rel="next"' in resp.headers["Link"] and "cursor=" in resp.headers["Link"]
    assert pages == 3
    assert seen == [f"00Q5g0000{n:06d}" for n in range(24)]
    # CSV pages with the header cursor.
    resp = await get(api, limit=20, format="csv")
    page_one = list(csv.reader(io.StringIO(await resp.text(), newline="")))[1:]
    resp = await get(api, limit=20, format="csv", cursor=resp.headers["X-Next-Cursor"])
    page_two = list(csv.reader(io.StringIO(await resp.text(), newline="")))[1:]
    assert [r[2] for r in page_one + page_two] == seen
    assert "X-Next-Cursor" not in resp.headers


async def test_rows_committed_during_a_page_are_never_skipped(api, monkeypatch) -> None:
    """A row committed between the plan and the reads, timestamped inside the page, must not
    push the rows just before the page's cursor out of every page."""
    monkeypatch.setattr(export, "CHUNK_ROWS", 4)  # several chunks per page of 10
    real_chunk = export.chunk
    late = {  # chunk call number -> timestamp of a row committed just before that call
        2: T0 + timedelta(hours=4 * 5, minutes=30),  # page 1 (rows 0..9), after row 5
        5: T0 + timedelta(hours=4 * 15, minutes=30),  # page 2 (rows 10..19), after row 15
        7: T0 + timedelta(hours=4 * 20, minutes=30),  # last page (no cursor), after row 20
    }
    calls = 0

    def chunk_with_late_rows(db: Database, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls in late:
            _late_row(db, api["tenant_id"], f"late-{calls}", late[calls])
        return real_chunk(db, *args)

    monkeypatch.setattr(export, "chunk", chunk_with_late_rows)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        data = await (await get(api, **params)).json()
        assert len(data["entries"]) == data["count"]
        seen += [e["object_id"] for e in data["entries"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
    expected = [f"00Q5g0000{n:06d}" for n in range(24)] + [f"late-{n}" for n in late]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    for call, row in ((2, 5), (5, 15), (7, 20)):
        assert seen.index(f"late-{call}") == seen.index(f"00Q5g0000{row:06d}") + 1


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_a_final_page_ends_at_its_planned_last_row(api, monkeypatch, fmt: str) -> None:
    """Rows committed while a final page (no cursor) streams, after its planned last row and
    before `to`, stay out of it: the page holds its planned rows plus only the rows committed
    inside its key range. The next export finds them."""
    where = export.ExportFilter(
        tenant_id=api["tenant_id"], start=T0, end=datetime(2025, 4, 1, tzinfo=UTC)
    )
    planned = export.plan(api["db"], where, None, 10_000)
    assert planned.rows == 24 and not planned.has_more
    assert planned.last is not None and planned.last.timestamp == T0 + timedelta(hours=4 * 23)
    monkeypatch.setattr(export, "CHUNK_ROWS", 4)  # full chunks would keep an unbounded read going
    real_chunk = export.chunk
    calls = 0

    def chunk_with_late_rows(db: Database, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 3:  # five rows past the planned last row before each of the first reads
            for n in range(5):
                when = T0 + timedelta(hours=4 * 23, minutes=10 * calls + n)
                _late_row(db, api["tenant_id"], f"after-{calls}-{n}", when)
        if calls == 2:  # and one inside the page's range, which joins it
            _late_row(db, api["tenant_id"], "inside", T0 + timedelta(hours=4 * 10, minutes=30))
        return real_chunk(db, *args)

    monkeypatch.setattr(export, "chunk", chunk_with_late_rows)
    resp = await get(api, format=fmt)
    assert resp.status == 200 and resp.headers["X-Export-Rows"] == "24"
    assert "X-Next-Cursor" not in resp.headers
    if fmt == "json":
        data = await resp.json()
        ids = [e["object_id"] for e in data["entries"]]
        assert data["count"] == len(ids) and data["next_cursor"] is None
    else:
        ids = [r["object_id"] for r in csv.DictReader(io.StringIO(await resp.text(), newline=""))]
    assert calls >= 3  # the late rows were all committed while the page streamed
    expected = [f"00Q5g0000{n:06d}" for n in range(24)]
    assert ids == [*expected[:11], "inside", *expected[11:]]  # 24 planned + 1 inside, no more
    monkeypatch.setattr(export, "chunk", real_chunk)
    later = await (await get(api)).json()
    after = [f"after-{c}-{n}" for c in (1, 2, 3) for n in range(5)]
    assert [e["object_id"] for e in later["entries"]] == ids + after


def _late_row(db: Database, tenant_id: int, object_id: str, when: datetime) -> None:
    with db.session() as s:
        record_action(
            s, tenant_id=tenant_id, object="Lead", object_id=object_id, action="enrich",
            reason="late", timestamp=when,
        )  # fmt: skip


async def test_cursor_is_checked(api) -> None:
    data = await (await get(api, limit=5)).json()
    cursor = data["next_cursor"]
    resp = await get(api, limit=5, cursor=cursor, pool="inbound")  # other filters
    body = await resp.json()
    assert resp.status == 422 and body["detail"][0]["loc"] == ["query", "cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert (await get(api, limit=5, cursor=tampered)).status == 422
    assert (await get(api, limit=5, cursor="not-a-cursor")).status == 422


BAD_QUERIES = [
    {"from": None},
    {"to": None},
    {"from": "2025-04-01", "to": "2025-03-01"},
    {"from": "yesterday"},
    {"action": "delete"},
    {"format": "xml"},
    {"limit": 0},
    {"limit": 10_001},
    {"limit": "many"},
    {"include_diff": "maybe"},
    {"object": "Lead; DROP TABLE"},
    {"unknown": "1"},
]


async def test_bad_queries_are_422(api) -> None:
    for params in BAD_QUERIES:
        query = {"from": "2025-03-01", "to": "2025-03-31", **params}
        query = {k: v for k, v in query.items() if v is not None}
        resp = await api["client"].get("/v1/logs/routing", params=query, headers=api["headers"])
        body = await resp.json()
        assert resp.status == 422, (params, body)
        assert body["detail"] and body["detail"][0]["loc"][0] == "query"


async def test_auth_required(api) -> None:
    resp = await api["client"].get(
        "/v1/logs/routing", params={"from": "2025-03-01", "to": "2025-03-02"}
    )
    assert resp.status == 401


def bulk(db: Database, tenant_id: int, count: int, start: datetime) -> None:
    rows = [
        {
            "tenant_id": tenant_id, "timestamp": start + timedelta(seconds=n // 3),
            "object": "Lead", "object_id": f"00Q{n:012d}", "action": "assign",
            "pool": "bulk", "assigned_to": "0055g00000AAAAA", "sequence": n,
            "reason": "bulk", "diff": {"n": n},
        }
        for n in range(count)
    ]  # fmt: skip
    with db.session() as s:
        s.execute(insert(RouteLog), rows)


async def test_ten_thousand_limit_and_cursor_past_it(api) -> None:
    bulk(api["db"], api["tenant_id"], 12_345, datetime(2025, 5, 1, tzinfo=UTC))
    query = {"from": "2025-05-01", "to": "2025-05-02", "limit": 10_000}
    resp = await api["client"].get("/v1/logs/routing", params=query, headers=api["headers"])
    data = await resp.json()
    assert resp.status == 200
    assert data["count"] == 10_000 and len(data["entries"]) == 10_000
    assert resp.headers["X-Export-Rows"] == "10000"
    # Three rows share each second: the keyset (timestamp, id) never splits or repeats them.
    query["cursor"] = data["next_cursor"]
    resp = await api["client"].get("/v1/logs/routing", params=query, headers=api["headers"])
    rest = await resp.json()
    assert rest["count"] == 2_345 and rest["next_cursor"] is None
    ids = [e["object_id"] for e in data["entries"] + rest["entries"]]
    assert ids == [f"00Q{n:012d}" for n in range(12_345)]


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_export_is_streamed_in_bounded_chunks(api, monkeypatch, fmt: str) -> None:
    """2,500 rows go out with chunked transfer encoding, read from the database 1,000 at a
    time, and each chunk reaches the client before the next one is read."""
    bulk(api["db"], api["tenant_id"], 2_500, datetime(2025, 5, 1, tzinfo=UTC))
    real_chunk = export.chunk
    sizes: list[int] = []
    first_chunk_arrived = threading.Event()

    def observed_chunk(*args: Any) -> Any:
        # Runs in a worker thread: waiting here never blocks the client reading the body.
        if sizes and not first_chunk_arrived.wait(timeout=10):
            raise AssertionError("the first chunk was not sent before the next one was read")
        rows = real_chunk(*args)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(export, "chunk", observed_chunk)
    query = {"from": "2025-05-01", "to": "2025-05-02", "limit": 10_000, "format": fmt}
    resp = await api["client"].get("/v1/logs/routing", params=query, headers=api["headers"])
    assert resp.status == 200
    assert resp.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in resp.headers
    body = b""
    pieces = 0
    async for piece in resp.content.iter_any():
        body += piece
        pieces += 1
        if b"00Q000000000999" in body:  # the last row of the first chunk
            first_chunk_arrived.set()
    assert sizes == [export.CHUNK_ROWS, export.CHUNK_ROWS, 500]
    assert pieces >= 3
    if fmt == "json":
        data = json.loads(body)
        ids = [e["object_id"] for e in data["entries"]]
    else:
        ids = [r["object_id"] for r in csv.DictReader(io.StringIO(body.decode(), newline=""))]
    assert ids == [f"00Q{n:012d}" for n in range(2_500)]


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_a_failure_mid_stream_is_an_incomplete_body(api, monkeypatch, fmt: str) -> None:
    """After the 200 is sent, a failure can only cut the connection, without the terminating
    chunk: the client's HTTP library raises, though every write so far was whole records."""
    bulk(api["db"], api["tenant_id"], 2_500, datetime(2025, 5, 1, tzinfo=UTC))
    real_chunk = export.chunk
    calls = 0

    def failing_chunk(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        return real_chunk(*args)

    monkeypatch.setattr(export, "chunk", failing_chunk)
    query = {"from": "2025-05-01", "to": "2025-05-02", "limit": 10_000, "format": fmt}
    resp = await api["client"].get("/v1/logs/routing", params=query, headers=api["headers"])
    assert resp.status == 200 and resp.headers["X-Export-Rows"] == "2500"
    received = b""
    async with asyncio.timeout(30):  # the connection is closed, not left hanging
        with pytest.raises(aiohttp.ClientPayloadError):
            async for piece in resp.content.iter_any():
                received += piece
    if fmt == "csv":  # what arrived is whole records: only the HTTP framing shows the cut
        assert received.endswith(b'"{""n"":999}"\r\n')


async def test_rate_limits_as_documented(api, aiohttp_client, settings_any) -> None:
    # Exports: 10 per minute per key (the documented default settings).
    assert settings_any.rate_limit_logs_per_min == 10
    documented = {**api, "client": await aiohttp_client(create_app(settings_any))}
    statuses = [(await get(documented, limit=1)).status for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    limited = await get(documented, limit=1)
    body = await limited.json()
    assert body["error"] == "Rate limit exceeded" and int(limited.headers["Retry-After"]) >= 1


async def test_large_exports_two_per_minute(aiohttp_client, settings_any, db_any) -> None:
    # Raise the plain export limit so only the large-export limit (2/min) can refuse.
    assert settings_any.rate_limit_logs_large_per_min == 2
    settings = settings_any.model_copy(update={"rate_limit_logs_per_min": 100})
    created = tenants.create_key(db_any, "big")
    bulk(db_any, created.tenant_id, 5_001, datetime(2025, 5, 1, tzinfo=UTC))
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Bearer {created.key}"}
    query = {"from": "2025-05-01", "to": "2025-05-02", "limit": 10_000, "include_diff": "false"}
    statuses = [
        (await client.get("/v1/logs/routing", params=query, headers=headers)).status
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    # Pages of at most 5,000 rows are not large exports.
    small = {**query, "limit": 5_000}
    assert (await client.get("/v1/logs/routing", params=small, headers=headers)).status == 200
    # A large limit over a small result is not a large export either.
    few = {**query, "to": "2025-05-01T00:00:10Z"}
    assert (await client.get("/v1/logs/routing", params=few, headers=headers)).status == 200
