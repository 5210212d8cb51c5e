"""sObject Collections: create/update/delete up to 200 records per call, per-record outcomes.

`POST|PATCH /composite/sobjects` with `{"allOrNone": false, "records": [...]}` and
`DELETE /composite/sobjects?ids=...&allOrNone=false` answer with an ordered array
`[{"id", "success", "errors": [{"statusCode", "message", "fields"}]}]`, one per input.
With `allOrNone: false` one bad record does not sink the other 199.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from bridge.salesforce import ids as sf_ids
from bridge.salesforce import soql
from bridge.salesforce.errors import SalesforceError, is_lock_error

MAX_RECORDS = 200  # Salesforce's hard limit per collection call
T = TypeVar("T")


@dataclass(frozen=True)
class RecordError:
    status_code: str
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordResult:
    """The outcome for one input record, at the same position as the input."""

    id: str | None
    success: bool
    errors: tuple[RecordError, ...] = ()

    @property
    def is_lock_failure(self) -> bool:
        return not self.success and any(
            is_lock_error(e.status_code, e.message) for e in self.errors
        )


def chunked(items: Sequence[T], size: int = MAX_RECORDS) -> Iterator[Sequence[T]]:
    if size <= 0:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def record_errors(raw: Any) -> tuple[RecordError, ...]:
    out = []
    for item in raw or ():
        if not isinstance(item, Mapping):
            continue
        code = item.get("statusCode") or item.get("errorCode") or "UNKNOWN"
        fields = item.get("fields") or ()
        out.append(
            RecordError(
                status_code=str(code),
                message=str(item.get("message") or ""),
                fields=tuple(str(f) for f in fields) if isinstance(fields, list | tuple) else (),
            )
        )
    return tuple(out)


def parse_results(payload: Any, expected: int, operation: str) -> list[RecordResult]:
    """Read the ordered result array; anything else is Salesforce breaking its contract."""
    if not isinstance(payload, list) or len(payload) != expected:
        got = len(payload) if isinstance(payload, list) else type(payload).__name__
        raise SalesforceError(
            f"expected {expected} collection results, got {got}", operation=operation
        )
    results = []
    for item in payload:
        if not isinstance(item, Mapping):
            raise SalesforceError("collection result is not an object", operation=operation)
        results.append(
            RecordResult(
                id=item.get("id"),
                success=bool(item.get("success")),
                errors=record_errors(item.get("errors")),
            )
        )
    return results


def create_body(sobject: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    soql.sobject_name(sobject)
    out = []
    for record in records:
        if any(key.lower() == "id" for key in record):
            raise ValueError("records to create must not carry an Id")
        out.append({"attributes": {"type": sobject}, **_fields(record)})
    return {"allOrNone": False, "records": out}


def update_body(sobject: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    soql.sobject_name(sobject)
    out = []
    for record in records:
        record_id = record.get("Id")
        if not isinstance(record_id, str):
            raise ValueError("records to update need an Id")
        body = {"attributes": {"type": sobject}, **_fields(record)}
        body["Id"] = sf_ids.normalize(record_id, sobject)
        out.append(body)
    return {"allOrNone": False, "records": out}


def _fields(record: Mapping[str, Any]) -> dict[str, Any]:
    # "attributes" is ours to set; anything else must be a plain field name.
    out = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        soql.field_list([key], required=())
        out[key] = _json_value(value)
    return out


def _json_value(value: Any) -> Any:
    """Dates and datetimes in the forms Salesforce writes them (requests' JSON cannot)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: Salesforce datetimes are UTC, pass an aware value")
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat()
    return value


def delete_params(record_ids: Sequence[str]) -> dict[str, str]:
    return {
        "ids": ",".join(sf_ids.normalize(i) for i in record_ids),
        "allOrNone": "false",
    }
