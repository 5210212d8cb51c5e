"""Watermark polling: changed records in (SystemModstamp, Id) order, one keyset page at a time.

Each page is its own query (`LIMIT page_size`) starting right after the previous page's last
(timestamp, id) pair. Paging on the timestamp alone loops or skips when many rows share a
millisecond; the pair is a total order. A crash between pages resumes exactly from the stored
watermark, and no server-side cursor has to stay alive between pages.

On QUERY_TIMEOUT the query gets an upper bound on the cursor (a time window) that halves until
the query answers; each drained window makes the next one twice as wide, until it is open-ended
again. Only records really read move the watermark, so it never passes unread rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    min_window: timedelta = timedelta(seconds=1),
    cursor_field: str = "SystemModstamp",
) -> Iterator[ChangePage]:
    """Pages of changed records after the watermark.

    `include_deleted` reads through queryAll and adds `IsDeleted` to the fields. On
    QUERY_TIMEOUT the time window ahead of the watermark halves (down to `min_window`, then
    the page halves down to `min_page_size`) and the query is asked again; a window read to
    its end yields a page (possibly empty) and the next window is twice as wide. The last page
    is always an open-ended query. The caller applies any lookback to `watermark_ts`;
    late-visible rows then come back as duplicates, so processing must be idempotent.
    """
    wanted = list(fields) + (["IsDeleted"] if include_deleted else [])
    ts = soql.parse_datetime(watermark_ts) if watermark_ts is not None else None
    last_id = sf_ids.normalize(watermark_id, sobject) if watermark_id else None
    size = page_size
    # The query starts after (from_ts, from_id): the watermark, or the end of a window read
    # to its end (nothing unread lies before it, though the watermark stays on the last row).
    from_ts, from_id = ts, last_id
    end: datetime | None = None  # exclusive upper bound on the cursor; None: open-ended
    width = timedelta(0)  # of the current window
    while True:
        query = soql.changes_since(
            sobject, wanted, from_ts, from_id, limit=size, cursor_field=cursor_field, until=end
        )
        try:
            records = list(query_records(query, include_deleted))
        except SalesforceError as exc:
            if exc.error_code != "QUERY_TIMEOUT":
                raise
            narrower = _halve_window(from_ts, end, min_window)
            if narrower is not None:
                end, width = narrower
                log.warning("salesforce.query_timeout_shrink", sobject=sobject,
                            window_seconds=width.total_seconds())  # fmt: skip
                continue
            if size <= min_page_size:
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
            from_ts, from_id = ts, last_id
        drained = len(records) < size
        last = drained and end is None
        if drained and end is not None:
            # Read to the window's end: the next window starts there, twice as wide, and is
            # open-ended once it reaches now.
            from_ts, from_id = end, None
            width *= 2
            end += width
            if end >= datetime.now(UTC):
                end = None
        yield ChangePage(records=records, watermark=Watermark(ts, last_id), last=last)
        if last:
            return


def _halve_window(
    start: datetime | None, end: datetime | None, min_window: timedelta
) -> tuple[datetime, timedelta] | None:
    """(end, width) of a window half as wide as [start, end) (end None: up to now), or None
    when there is no start to measure from or the half would be narrower than `min_window`."""
    if start is None:
        return None
    half = ((end or datetime.now(UTC)) - start) / 2
    return (start + half, half) if half >= min_window else None
