"""Watermark polling: changed records in (SystemModstamp, Id) order, one keyset page at a time.

Each page is its own query (`LIMIT page_size`) starting right after the previous page's last
(timestamp, id) pair. Paging on the timestamp alone loops or skips when many rows share a
millisecond; the pair is a total order. A crash between pages resumes exactly from the stored
watermark, and no server-side cursor has to stay alive between pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from bridge.salesforce import ids as sf_ids
from bridge.salesforce import soql
from bridge.salesforce.errors import SalesforceError

log = structlog.get_logger(__name__)

# Runs one SOQL string (queryAll when the flag is set) and yields its records, all pages.
QueryRecords = Callable[[str, bool], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Watermark:
    """Where a change poll stands: the last (SystemModstamp, Id) seen."""

    ts: datetime | None
    id: str | None


@dataclass(frozen=True)
class ChangePage:
    records: list[dict[str, Any]]
    watermark: Watermark  # store this after processing the page; resume from it
    last: bool  # no more changes right now


def poll_changes(
    query_records: QueryRecords,
    sobject: str,
    fields: Sequence[str],
    watermark_ts: datetime | str | None,
    watermark_id: str | None = None,
    *,
    include_deleted: bool = True,
    page_size: int = soql.MAX_BATCH,
    min_page_size: int = 200,
    cursor_field: str = "SystemModstamp",
) -> Iterator[ChangePage]:
    """Pages of changed records after the watermark.

    `include_deleted` reads through queryAll and adds `IsDeleted` to the fields. On
    QUERY_TIMEOUT the page shrinks (halving, down to `min_page_size`) and is asked again.
    The caller applies any lookback to `watermark_ts`; late-visible rows then come back as
    duplicates, so processing must be idempotent.
    """
    wanted = list(fields) + (["IsDeleted"] if include_deleted else [])
    ts = soql.parse_datetime(watermark_ts) if watermark_ts is not None else None
    last_id = sf_ids.normalize(watermark_id, sobject) if watermark_id else None
    size = page_size
    while True:
        query = soql.changes_since(
            sobject, wanted, ts, last_id, limit=size, cursor_field=cursor_field
        )
        try:
            records = list(query_records(query, include_deleted))
        except SalesforceError as exc:
            if exc.error_code != "QUERY_TIMEOUT" or size <= min_page_size:
                raise
            size = max(min_page_size, size // 2)
            log.warning("salesforce.query_timeout_shrink", sobject=sobject, page_size=size)
            continue
        if records:
            tail = records[-1]
            if tail.get(cursor_field) is None or not tail.get("Id"):
                raise SalesforceError(
                    f"change query returned a record without {cursor_field}/Id",
                    operation="changed_since",
                )
            ts, last_id = soql.parse_datetime(tail[cursor_field]), tail["Id"]
        last = len(records) < size
        yield ChangePage(records=records, watermark=Watermark(ts, last_id), last=last)
        if last:
            return
