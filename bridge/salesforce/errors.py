"""Typed exceptions for everything that can go wrong talking to Salesforce.

Callers branch on the class, never on strings: `SessionExpired` (refresh already tried),
`RequestLimitExceeded` (the org is out of API calls: stop), `BudgetExhausted` (our own early
stop, raised before any call), `TransientError` (retries used up; try again later), and
`SalesforceError` for everything else, carrying Salesforce's `errorCode`, `message`, `fields`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# Codes Salesforce documents as "try again": row locks (often wrapped by a flow or trigger
# failure), and the server being briefly unavailable.
LOCK_ROW = "UNABLE_TO_LOCK_ROW"
TRANSIENT_CODES = frozenset({LOCK_ROW, "SERVER_UNAVAILABLE"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
WRAPPING_CODES = frozenset({"CANNOT_EXECUTE_FLOW_TRIGGER", "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"})


class SalesforceError(Exception):
    """Salesforce said no. `error_code`/`fields` are Salesforce's; `errors` is the full list."""

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        fields: Sequence[str] = (),
        status: int | None = None,
        operation: str | None = None,
        errors: Sequence[dict[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.fields = tuple(fields)
        self.status = status
        self.operation = operation
        self.errors = tuple(errors)
        # Batched writes that stop part-way (budget, limit, retries used up) put the outcomes
        # of the inputs already sent here, in input order: the first len(completed) inputs.
        self.completed: list[Any] = []

    @property
    def errorCode(self) -> str | None:
        return self.error_code

    def __str__(self) -> str:
        where = f" during {self.operation}" if self.operation else ""
        code = f"{self.error_code}: " if self.error_code else ""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{code}{self.message}{where}{status}"


class AuthenticationFailed(SalesforceError):
    """The token endpoint (or SOAP login) refused our credentials."""


class SessionExpired(SalesforceError):
    """INVALID_SESSION_ID even after one token refresh."""


class RequestLimitExceeded(SalesforceError):
    """The org is out of API calls (403 REQUEST_LIMIT_EXCEEDED). Stop; do not retry soon."""


class BudgetExhausted(SalesforceError):
    """Our own early stop: the configured share of the daily API limit is used up."""


class TransientError(SalesforceError):
    """A retryable failure (row lock, 5xx, connection) that outlived its retries."""

    def __init__(self, message: str, *, attempts: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.attempts = attempts


class InvalidId(ValueError):
    """Not a Salesforce id, or an id of another object than expected."""


class UnknownFields(ValueError):
    """Configured field names that the org's describe does not know."""

    def __init__(self, sobject: str, names: Sequence[str]) -> None:
        super().__init__(f"{sobject} has no field(s): {', '.join(names)}")
        self.sobject = sobject
        self.names = tuple(names)


def is_lock_error(code: str | None, message: str | None) -> bool:
    """Row locks surface as their own code, or hidden in a flow/trigger failure's message."""
    if code == LOCK_ROW:
        return True
    return bool(code in WRAPPING_CODES and message and LOCK_ROW in message)


def error_for(
    status: int | None,
    code: str | None,
    message: str,
    *,
    fields: Sequence[str] = (),
    operation: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
    http_status_is_meaningful: bool = True,
) -> SalesforceError:
    """Pick the exception class for one Salesforce failure.

    SOAP faults always arrive as HTTP 500, so for them the status says nothing about
    retryability (`http_status_is_meaningful=False`): only the fault code counts.
    """
    kwargs: dict[str, Any] = {
        "error_code": code,
        "fields": fields,
        "status": status,
        "operation": operation,
        "errors": errors,
    }
    if code == "INVALID_SESSION_ID" or (status == 401 and http_status_is_meaningful):
        return SessionExpired(message, **kwargs)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RequestLimitExceeded(message, **kwargs)
    if is_lock_error(code, message) or code in TRANSIENT_CODES:
        return TransientError(message, **kwargs)
    if http_status_is_meaningful and status in TRANSIENT_STATUSES:
        return TransientError(message, **kwargs)
    return SalesforceError(message, **kwargs)


def parse_error_body(content: Any) -> list[dict[str, Any]]:
    """Salesforce's REST error body, `[{message, errorCode, fields}]`, read tolerantly.

    simple-salesforce hands us parsed JSON, or text/bytes when the body was not JSON
    (an HTML 503 page from a load balancer, say).
    """
    if isinstance(content, bytes | bytearray):
        content = content.decode("utf-8", "replace")
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            text = content.strip()
            return [{"message": text[:500]}] if text else []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    return [item for item in content if isinstance(item, dict)]


def from_rest_failure(status: int, content: Any, operation: str | None = None) -> SalesforceError:
    """Turn a failed REST response (status + body) into our exception."""
    errors = parse_error_body(content)
    first = errors[0] if errors else {}
    code = first.get("errorCode") or first.get("statusCode") or first.get("error")
    message = str(first.get("message") or first.get("error_description") or f"HTTP {status}")
    fields = first.get("fields") or ()
    if not isinstance(fields, list | tuple):
        fields = ()
    return error_for(
        status,
        str(code) if code else None,
        message,
        fields=[str(f) for f in fields],
        operation=operation,
        errors=errors,
    )
