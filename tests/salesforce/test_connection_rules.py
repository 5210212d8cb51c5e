"""The call rules without a network: refresh once, bounded retries, stop on limits (no I/O).

Integration tests repeat these against the sandbox's injected faults; these pin the edges.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from bridge.salesforce import soql
from bridge.salesforce.auth import AccessToken
from bridge.salesforce.collections import create_body, parse_results
from bridge.salesforce.connection import RetryPolicy, SalesforceConnection
from bridge.salesforce.errors import (
    BudgetExhausted,
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
    TransientError,
    from_rest_failure,
)
from bridge.salesforce.gateway import SalesforceGateway


class FakeTokens:
    mode = "fake"

    def __init__(self) -> None:
        self.issued = 0

    def fetch(self, session: requests.Session) -> AccessToken:
        self.issued += 1
        return AccessToken(f"token-{self.issued}", "https://org.example.com")


def _connection(**options: Any) -> tuple[SalesforceConnection, FakeTokens, list[float]]:
    tokens, sleeps = FakeTokens(), []
    connection = SalesforceConnection(
        tokens,
        retry=RetryPolicy(max_retries=3, base_delay=0.1, max_delay=1.0),
        sleep=sleeps.append,
        **options,
    )
    return connection, tokens, sleeps


def _failing(errors: list[Exception], result: Any = "ok") -> Callable[[Salesforce], Any]:
    def fn(sf: Salesforce) -> Any:
        if errors:
            raise errors.pop(0)
        return result

    return fn


def _sf_error(cls: type, status: int, code: str, message: str = "m") -> Exception:
    return cls("https://x", status, "query", [{"errorCode": code, "message": message}])


def test_expired_session_refreshes_once_then_fails() -> None:
    connection, tokens, _ = _connection()
    expired = _sf_error(SalesforceExpiredSession, 401, "INVALID_SESSION_ID")
    seen: list[str] = []

    def fn(sf: Salesforce) -> str:
        seen.append(sf.session_id)
        if len(seen) == 1:
            raise expired
        return "ok"

    assert connection.call("query", fn) == "ok"
    assert seen == ["token-1", "token-2"] and tokens.issued == 2

    with pytest.raises(SessionExpired):
        connection.call("query", _failing([expired, expired, expired]))
    assert tokens.issued == 3  # exactly one more refresh, then gave up


@pytest.mark.parametrize(
    "error",
    [
        _sf_error(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"),
        SalesforceGeneralError("https://x", 502, "query", "<html>bad gateway</html>"),
        _sf_error(SalesforceMalformedRequest, 400, "UNABLE_TO_LOCK_ROW"),
        _sf_error(
            SalesforceMalformedRequest,
            400,
            "CANNOT_EXECUTE_FLOW_TRIGGER",
            "flow failed: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access",
        ),
        requests.ConnectionError("reset"),
    ],
)
def test_transient_errors_are_retried_with_growing_delays(error: Exception) -> None:
    connection, _, sleeps = _connection()
    assert connection.call("query", _failing([error, error])) == "ok"
    assert len(sleeps) == 2
    with pytest.raises(TransientError) as raised:
        connection.call("query", _failing([error] * 10))
    assert raised.value.attempts == 4  # 1 + max_retries
    delays = sleeps[2:]
    assert len(delays) == 3
    for attempt, delay in enumerate(delays):
        ceiling = min(1.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_unknown_outcome_of_a_write_is_not_retried() -> None:
    connection, _, sleeps = _connection()
    with pytest.raises(SalesforceError, match="outcome unknown"):
        connection.call("create", _failing([requests.ReadTimeout("slow")]), idempotent=False)
    assert sleeps == []


def test_other_errors_are_raised_at_once_with_code_and_fields() -> None:
    connection, _, sleeps = _connection()
    bad = SalesforceMalformedRequest(
        "https://x", 400, "query", [{"errorCode": "MALFORMED_QUERY", "message": "no", "fields": []}]
    )
    with pytest.raises(SalesforceError) as raised:
        connection.call("query", _failing([bad]))
    assert raised.value.error_code == "MALFORMED_QUERY" and raised.value.status == 400
    assert raised.value.operation == "query" and sleeps == []


def test_request_limit_exceeded_stops_and_stays_quiet() -> None:
    connection, _, sleeps = _connection(limit_cooldown_seconds=60)
    limit = _sf_error(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests")
    calls: list[int] = []

    def fn(sf: Salesforce) -> None:
        calls.append(1)
        raise limit

    with pytest.raises(RequestLimitExceeded):
        connection.call("query", fn)
    with pytest.raises(RequestLimitExceeded, match="not calling"):
        connection.call("query", fn)
    assert calls == [1] and sleeps == []


def test_budget_share_stops_before_calling() -> None:
    connection, _, _ = _connection(budget_share=0.5)
    connection.usage.observe_header("api-usage=49/100")
    assert connection.call("query", _failing([])) == "ok"
    connection.usage.observe_header("api-usage=50/100")
    called: list[int] = []
    with pytest.raises(BudgetExhausted):
        connection.call("query", lambda sf: called.append(1))
    assert called == []


def test_error_bodies_read_tolerantly() -> None:
    assert from_rest_failure(503, b"<html/>").__class__ is TransientError
    assert from_rest_failure(500, "not json").message == "not json"
    body = [{"errorCode": "INVALID_FIELD", "message": "x", "fields": ["A"]}]
    error = from_rest_failure(400, body)
    assert (error.error_code, error.fields, error.errorCode) == (
        "INVALID_FIELD",
        ("A",),
        "INVALID_FIELD",
    )
    assert isinstance(from_rest_failure(401, None), SessionExpired)


def test_collection_results_are_positional() -> None:
    payload = [
        {"id": "00Q000000000001EAA", "success": True, "errors": []},
        {
            "id": None,
            "success": False,
            "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []}],
        },
    ]
    ok, locked = parse_results(payload, 2, "update")
    assert ok.success and not ok.is_lock_failure
    assert locked.is_lock_failure and locked.errors[0].status_code == "UNABLE_TO_LOCK_ROW"
    with pytest.raises(SalesforceError):
        parse_results(payload, 3, "update")
    with pytest.raises(SalesforceError):
        parse_results(None, 1, "update")


def test_query_timeout_shrinks_the_change_window() -> None:
    connection, _, _ = _connection()
    gateway = SalesforceGateway(connection)
    asked: list[str] = []

    def fake_query_all_iter(query: str, include_deleted: bool = False, **_: Any) -> Any:
        asked.append(query)
        if len(asked) < 3:
            raise SalesforceError("timed out", error_code="QUERY_TIMEOUT")
        return iter([])

    gateway.query_all_iter = fake_query_all_iter  # type: ignore[method-assign]
    start = soql.parse_datetime("2024-01-01T00:00:00.000+0000")
    pages = list(gateway.changed_since("Lead", ["Email"], start))
    ends = [
        soql.parse_datetime(q.split("SystemModstamp < ", 1)[1].split(" ", 1)[0])
        for q in asked if "SystemModstamp < " in q
    ]  # fmt: skip
    # Open-ended, then a window halved twice; each drained window doubles until the last
    # query is open-ended again. The page size never changes.
    assert "SystemModstamp < " not in asked[0] and "SystemModstamp < " not in asked[-1]
    # Halved, to the millisecond SOQL datetimes carry.
    assert abs((ends[1] - start) * 2 - (ends[0] - start)) <= timedelta(milliseconds=1)
    assert all(later > earlier for earlier, later in itertools.pairwise(ends[1:]))
    assert {q.rsplit("LIMIT ", 1)[1] for q in asked} == {"2000"}
    assert pages[-1].last and not any(p.last for p in pages[:-1])
    assert all(p.records == [] for p in pages)


def test_datetimes_are_written_in_salesforce_format() -> None:
    body = create_body(
        "Lead",
        [
            {
                "LastName": "x",
                "Routed_At__c": datetime(2024, 5, 6, 7, 8, 9, 5000, tzinfo=UTC),
                "Birth__c": date(2000, 1, 2),
            }
        ],
    )
    record = body["records"][0]
    assert record["Routed_At__c"] == "2024-05-06T07:08:09.005+0000"
    assert record["Birth__c"] == "2000-01-02"
    assert body["allOrNone"] is False and record["attributes"] == {"type": "Lead"}
