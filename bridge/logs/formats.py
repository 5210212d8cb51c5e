"""Encoding exported route-log rows as JSON or CSV, one chunk at a time.

The JSON body is `{"success": true, "entries": [...], "count": N, "next_cursor": ...}`, written
as a prefix, the entries chunk by chunk, and a suffix, so it is never built whole. The CSV has
exactly the documented header; `diff` is JSON-encoded in its column and the csv module quotes
fields holding commas, quotes or line breaks (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from bridge.logs.export import COLUMNS

FIELDS = (
    "timestamp", "object", "object_id", "action", "pool", "assigned_to", "prev_owner",
    "sequence", "reason", "request_id", "idempotency_key", "diff",
)  # fmt: skip
assert FIELDS[:-1] == tuple(c.key for c in COLUMNS)

JSON_PREFIX = b'{"success":true,"entries":['


def iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _diff(row: Row[Any]) -> Any:
    # Columns: the documented ones, then id, then diff when it was selected.
    return row[len(COLUMNS) + 1] if len(row) > len(COLUMNS) + 1 else None


def entry(row: Row[Any]) -> dict[str, Any]:
    values = dict(zip(FIELDS[:-1], row, strict=False))
    values["timestamp"] = iso(row[0])
    values["diff"] = _diff(row)
    return values


def json_entries(rows: Sequence[Row[Any]], first: bool) -> bytes:
    """A chunk of entries; `first` says whether it opens the array (no leading comma)."""
    if not rows:
        return b""
    body = ",".join(json.dumps(entry(r), ensure_ascii=False, separators=(",", ":")) for r in rows)
    return (body if first else "," + body).encode()


def json_suffix(count: int, next_cursor: str | None) -> bytes:
    return f'],"count":{count},"next_cursor":{json.dumps(next_cursor)}}}'.encode()


def csv_header() -> bytes:
    return csv_rows_text([FIELDS]).encode()


def csv_rows_text(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def csv_chunk(rows: Sequence[Row[Any]]) -> bytes:
    out = []
    for row in rows:
        diff = _diff(row)
        out.append(
            (
                iso(row[0]), *row[1 : len(COLUMNS)],
                "" if diff is None else json.dumps(diff, ensure_ascii=False, separators=(",", ":")),
            )
        )  # fmt: skip
    return csv_rows_text(out).encode()
