"""Salesforce-shaped errors.

Top level `[{"message", "errorCode", "fields"}]`; per record `statusCode` instead of `errorCode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SalesforceError(Exception):
    """An error the sandbox answers the way Salesforce would."""

    def __init__(
        self, error_code: str, message: str, fields: Sequence[str] = (), status: int = 400
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)
        self.status = status

    def body(self) -> list[dict[str, Any]]:
        """Top-level REST error body."""
        return [{"message": self.message, "errorCode": self.error_code, "fields": self.fields}]

    def record_error(self) -> dict[str, Any]:
        """Per-record error inside sObject Collections and SOAP results."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields}


def not_found() -> SalesforceError:
    return SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)


def entity_deleted() -> SalesforceError:
    return SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status=404)


def invalid_session() -> SalesforceError:
    return SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", status=401)


def limit_exceeded() -> SalesforceError:
    return SalesforceError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
