"""SOQL building. Values only ever enter a query through `simple_salesforce.format_soql`.

Identifiers (object and field names) cannot be quoted in SOQL, so they are checked against a
strict pattern instead; anything else is refused before it can become a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from simple_salesforce import format_soql

from bridge.salesforce import ids as sf_ids

# Object/field API names, custom (`__c`, `__r`) and namespaced ones, and parent paths
# (`Account.Name`, `Owner.IsActive`). No functions, no spaces, no quotes.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_SOBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# One REST query travels in a GET URL, and Salesforce refuses a request whose URI and headers
# together pass 16,384 bytes (414/431), long before its 100,000-character SOQL limit.
# Percent-encoding can double or triple a character (`, ` -> `%2C+`, `'` -> `%27`), but a
# `by_ids` query is almost all id literals, and an id's `'<18>',` grows only 21 -> 27 characters
# (~1.3x); with its short frame, 10,000 characters stay under ~14,000 in the URL, with room
# for the headers.
DEFAULT_MAX_SOQL_LENGTH = 10_000
_ID_LITERAL = len("'001000000000000AAA',")
MAX_BATCH = 2_000  # Salesforce returns at most 2,000 records per query response


def sobject_name(name: str) -> str:
    if not isinstance(name, str) or not _SOBJECT.fullmatch(name):
        raise ValueError(f"not an sObject API name: {name!r}")
    return name


def field_list(fields: Iterable[str], *, required: Sequence[str] = ("Id",)) -> list[str]:
    """Validated field names, `required` ones first, duplicates (case-insensitive) dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for name in (*required, *fields):
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a field API name: {name!r}")
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def select(sobject: str, fields: Iterable[str]) -> str:
    """`SELECT <fields> FROM <sobject>`; the caller appends clauses through `format_soql`."""
    return format_soql(
        "SELECT {fields:literal} FROM {sobject:literal}",
        fields=", ".join(field_list(fields)),
        sobject=sobject_name(sobject),
    )


def datetime_literal(value: datetime) -> str:
    """A SOQL datetime literal with milliseconds, e.g. `2013-05-20T20:49:32.123Z`.

    `format_soql` drops sub-second precision, but SystemModstamp has milliseconds and the
    keyset `SystemModstamp = :ts` must match exactly, so we render datetimes ourselves. The
    result comes from a datetime object, never from caller text, so it is safe as a literal.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("naive datetime: Salesforce datetimes are UTC, pass an aware value")
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_datetime(value: str | datetime) -> datetime:
    """Read Salesforce's `2013-05-20T20:49:32.000+0000` (and ISO variants) as aware UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: Salesforce datetimes are UTC, pass an aware value")
        return value.astimezone(UTC)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)  # 3.11 accepts +0000 and milliseconds
    if parsed.tzinfo is None:
        raise ValueError(f"datetime without an offset: {value!r}")
    return parsed.astimezone(UTC)


def escape_like(value: str) -> str:
    """Escape a value for use inside a LIKE pattern (quotes, backslashes, `%`, `_`)."""
    return format_soql("{value:like}", value=value)


def by_ids(
    sobject: str,
    fields: Iterable[str],
    record_ids: Iterable[str],
    *,
    chunk_size: int | None = None,
    max_length: int = DEFAULT_MAX_SOQL_LENGTH,
) -> list[str]:
    """One `WHERE Id IN (...)` query per chunk of ids (validated, 18-char, deduplicated).

    Each query stays under `max_length` characters; by default that alone sizes the chunks
    (~470 ids with a few fields, so 5,000 ids take 11 queries). `chunk_size` caps them further.
    """
    head = select(sobject, fields)
    valid = sf_ids.normalize_all(record_ids, sobject)
    queries: list[str] = []
    chunk: list[str] = []
    # The IN clause frame is small and fixed; each id adds its literal and a comma.
    frame = len(head) + len(" WHERE Id IN ()") - 1
    for record_id in valid:
        too_long = frame + _ID_LITERAL * (len(chunk) + 1) > max_length
        full = chunk_size is not None and len(chunk) >= chunk_size
        if chunk and (full or too_long):
            queries.append(format_soql(head + " WHERE Id IN {ids}", ids=chunk))
            chunk = []
        chunk.append(record_id)
    if chunk:
        queries.append(format_soql(head + " WHERE Id IN {ids}", ids=chunk))
    return queries


def changes_since(
    sobject: str,
    fields: Iterable[str],
    watermark_ts: datetime | None,
    watermark_id: str | None = None,
    *,
    limit: int | None = MAX_BATCH,
    cursor_field: str = "SystemModstamp",
    until: datetime | None = None,
) -> str:
    """The keyset change query.

    `WHERE (SystemModstamp > :ts OR (SystemModstamp = :ts AND Id > :id))
     [AND SystemModstamp < :until] ORDER BY SystemModstamp, Id LIMIT :n`

    Paging on the timestamp alone loops or skips when many rows share a millisecond; the
    (timestamp, id) pair is a total order, so every page starts exactly after the last one.
    Without an id the timestamp is inclusive (a fresh start from a point in time). `until` is
    an exclusive upper bound on the cursor (a time window, see `changes.poll_changes`).
    """
    cursor = field_list([cursor_field], required=())[0]
    head = select(sobject, field_list(fields, required=("Id", cursor)))
    conditions: list[str] = []
    if watermark_ts is not None:
        ts = datetime_literal(parse_datetime(watermark_ts))
        if watermark_id is None:
            conditions.append(format_soql("{c:literal} >= {ts:literal}", c=cursor, ts=ts))
        else:
            # Parenthesized so a following AND binds to the whole keyset condition.
            conditions.append(
                format_soql(
                    "({c:literal} > {ts:literal} OR ({c:literal} = {ts:literal} AND Id > {id}))",
                    c=cursor,
                    ts=ts,
                    id=sf_ids.normalize(watermark_id, sobject),
                )
            )
    elif watermark_id is not None:
        raise ValueError("a watermark id needs its timestamp")
    if until is not None:
        end = datetime_literal(parse_datetime(until))
        conditions.append(format_soql("{c:literal} < {end:literal}", c=cursor, end=end))
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    tail = format_soql(" ORDER BY {c:literal} ASC, Id ASC", c=cursor)
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        tail += format_soql(" LIMIT {n}", n=limit)
    return head + where + tail
