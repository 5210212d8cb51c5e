"""Field values in and out: JSON input -> stored SQLite value (validated), stored -> JSON."""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import SalesforceError
from sandbox.ids import normalize_id
from sandbox.schema import NUMBER_TYPES, TEXT_TYPES, FieldDef
from sandbox.timefmt import normalize_datetime, parse_date

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _type_error(f: FieldDef, value: Any) -> SalesforceError:
    return SalesforceError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{f.label}: value not of required type: {value}",
        [f.name],
    )


def to_stored(f: FieldDef, value: Any) -> Any:
    """Validate a JSON value for field `f` and return what is stored (None for null)."""
    if value is None or (value == "" and f.type not in ("boolean",)):
        if f.type == "boolean":
            return 0
        return None
    if f.type == "boolean":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return int(value.lower() == "true")
        raise _type_error(f, value)
    if f.type in NUMBER_TYPES:
        if isinstance(value, bool):
            raise _type_error(f, value)
        try:
            number = float(value) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise _type_error(f, value) from None
        if f.type == "int":
            if float(number) != int(number):
                raise _type_error(f, value)
            return int(number)
        return float(number)
    if f.type == "date":
        try:
            return parse_date(str(value)).isoformat()
        except ValueError:
            raise _type_error(f, value) from None
    if f.type == "datetime":
        try:
            return normalize_datetime(str(value))
        except ValueError:
            raise _type_error(f, value) from None
    if f.type in ("reference", "id"):
        normalized = normalize_id(value) if isinstance(value, str) else None
        if normalized is None:
            raise SalesforceError(
                "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name]
            )
        return normalized
    if f.type in TEXT_TYPES:
        if isinstance(value, bool | dict | list):
            raise _type_error(f, value)
        text = str(value)
        if f.length and len(text) > f.length:
            raise SalesforceError(
                "STRING_TOO_LONG",
                f"{f.label}: data value too large: {text[:40]} (max length={f.length})",
                [f.name],
            )
        if f.type == "email" and not _EMAIL_RE.match(text):
            raise SalesforceError(
                "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {text}", [f.name]
            )
        return text
    raise _type_error(f, value)


def to_json(f: FieldDef, value: Any) -> Any:
    """The JSON form Salesforce answers with for a stored value."""
    if f.type == "boolean":
        return bool(value)
    if value is None:
        return None
    if f.type == "int":
        return int(value)
    if f.type in NUMBER_TYPES:
        return float(value)
    return value
