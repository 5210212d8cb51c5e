"""Each injected fault handled as the gateway promises, against the real sandbox process."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from simple_salesforce import format_soql

from bridge.salesforce import (
    BudgetExhausted,
    LeadConvert,
    RequestLimitExceeded,
    SalesforceGateway,
    SessionExpired,
    TransientError,
)

from .conftest import make_gateway, sandbox_settings

QUERY = "SELECT Id FROM User LIMIT 1"


def _hits(sandbox: Any) -> list[int]:
    return [rule["hits"] for rule in sandbox.faults()]


def _leads(gateway: SalesforceGateway, n: int) -> list[str]:
    company = f"f-{uuid.uuid4().hex[:8]}"
    results = gateway.create("Lead", [{"LastName": f"L{i}", "Company": company} for i in range(n)])
    return [r.id for r in results]


def test_expired_session_refreshes_once(gateway: SalesforceGateway, sandbox: Any) -> None:
    gateway.query(QUERY)
    assert gateway.usage.auth_requests == 1
    assert sandbox.expire_tokens() >= 1
    assert gateway.query(QUERY)["totalSize"] == 1
    assert gateway.usage.auth_requests == 2  # one refresh
    assert gateway.calls_by_operation == {"query": 3}  # ok, 401, retried ok


def test_session_that_stays_invalid_fails_after_one_refresh(
    gateway: SalesforceGateway, sandbox: Any
) -> None:
    gateway.query(QUERY)
    sandbox.set_faults({"kind": "EXPIRE_SESSION", "path": "/query"})
    with pytest.raises(SessionExpired) as raised:
        gateway.query(QUERY)
    assert raised.value.error_code == "INVALID_SESSION_ID"
    assert gateway.usage.auth_requests == 2  # exactly one refresh, no loop
    assert _hits(sandbox) == [2]


def test_expired_session_during_soap_convert(gateway: SalesforceGateway, sandbox: Any) -> None:
    (lead,) = _leads(gateway, 1)
    gateway.converted_status()
    sandbox.set_faults({"kind": "EXPIRE_SESSION", "path": "Soap", "times": 1})
    (result,) = gateway.convert_leads([LeadConvert(lead_id=lead)])
    assert result.success
    assert gateway.usage.auth_requests == 2
    assert gateway.calls_by_operation["convert_leads"] == 2


@pytest.mark.parametrize("kind", ["503", "500"])
def test_server_errors_are_retried(gateway: SalesforceGateway, sandbox: Any, kind: str) -> None:
    sandbox.set_faults({"kind": kind, "path": "/query", "times": 2})
    assert gateway.query(QUERY)["totalSize"] == 1
    assert gateway.calls_by_operation == {"query": 3}
    assert _hits(sandbox) == [2]


def test_server_errors_give_up_after_bounded_retries(
    gateway: SalesforceGateway, sandbox: Any
) -> None:
    sandbox.set_faults({"kind": "503", "path": "/query"})
    with pytest.raises(TransientError) as raised:
        gateway.query(QUERY)
    assert raised.value.status == 503 and raised.value.error_code == "SERVER_UNAVAILABLE"
    assert raised.value.attempts == 5  # 1 + sf_max_retries (4)
    assert gateway.calls_by_operation == {"query": 5}


def test_lock_row_on_a_whole_call_is_retried(gateway: SalesforceGateway, sandbox: Any) -> None:
    leads = _leads(gateway, 3)
    sandbox.set_faults({"kind": "UNABLE_TO_LOCK_ROW", "path": "composite/sobjects", "times": 2})
    results = gateway.update("Lead", [{"Id": i, "Title": "Locked?"} for i in leads])
    assert all(r.success for r in results)
    assert gateway.calls_by_operation["update"] == 3
    titles = {r["Title"] for r in gateway.fetch("Lead", leads, ["Title"])}
    assert titles == {"Locked?"}


def test_lock_row_on_some_records_retries_just_those(
    gateway: SalesforceGateway, sandbox: Any
) -> None:
    leads = _leads(gateway, 5)
    bodies: list[Any] = []
    gateway.connection.session.hooks["response"].append(
        lambda r, *a, **k: bodies.append(r.request.body)
    )
    sandbox.set_faults(
        {
            "kind": "UNABLE_TO_LOCK_ROW_RECORDS",
            "path": "composite/sobjects",
            "times": 1,
            "record_indexes": [1, 3],
        }
    )
    results = gateway.update("Lead", [{"Id": i, "Title": "Row lock"} for i in leads])
    assert [r.success for r in results] == [True] * 5
    assert [r.id for r in results] == leads  # outcomes stay in input order
    assert gateway.calls_by_operation["update"] == 2
    sent = [[rec["Id"] for rec in json.loads(body)["records"]] for body in bodies]
    assert sent == [leads, [leads[1], leads[3]]]


def test_lock_row_per_record_retries_are_bounded(gateway: SalesforceGateway, sandbox: Any) -> None:
    leads = _leads(gateway, 2)
    sandbox.set_faults(
        {"kind": "UNABLE_TO_LOCK_ROW_RECORDS", "path": "composite/sobjects", "record_indexes": [0]}
    )
    results = gateway.update("Lead", [{"Id": i, "Title": "Always locked"} for i in leads])
    assert [r.success for r in results] == [False, True]
    assert results[0].is_lock_failure
    assert gateway.calls_by_operation["update"] == 5  # first try + 4 retries of one record


def test_lock_row_per_lead_in_convert_is_retried(gateway: SalesforceGateway, sandbox: Any) -> None:
    leads = _leads(gateway, 3)
    gateway.converted_status()
    sandbox.set_faults(
        {"kind": "UNABLE_TO_LOCK_ROW_RECORDS", "path": "Soap", "times": 1, "record_indexes": [2]}
    )
    results = gateway.convert_leads([LeadConvert(lead_id=i) for i in leads])
    assert [r.success for r in results] == [True, True, True]
    assert [r.lead_id for r in results] == leads
    assert gateway.calls_by_operation["convert_leads"] == 2


def test_request_limit_exceeded_stops_without_hammering(
    gateway: SalesforceGateway, sandbox: Any
) -> None:
    sandbox.set_faults({"kind": "REQUEST_LIMIT_EXCEEDED", "path": "/query"})
    with pytest.raises(RequestLimitExceeded) as raised:
        gateway.query(QUERY)
    assert raised.value.status == 403
    with pytest.raises(RequestLimitExceeded):
        gateway.query(QUERY)
    with pytest.raises(RequestLimitExceeded):
        gateway.describe("Lead")
    assert _hits(sandbox) == [1]  # one call reached the org, none after
    assert gateway.calls_by_operation == {"query": 1}


def test_daily_limit_really_running_out(sandbox: Any) -> None:
    # budget_share 1.0: the gateway goes right up to the org's own limit.
    gateway = make_gateway(sandbox, settings=sandbox_settings(sandbox, sf_api_budget_share=1.0))
    gateway.query(QUERY)  # sign in while calls remain
    used = sandbox.api_usage()["used"]
    sandbox.set_api_limit(used + 1, used=used)
    gateway.query(QUERY)
    with pytest.raises((RequestLimitExceeded, BudgetExhausted)):
        gateway.query(QUERY)
    assert sandbox.api_usage()["used"] == used + 1
    assert gateway.usage.snapshot()["api_share_used"] == 1.0


def test_budget_share_stops_before_calling(sandbox: Any) -> None:
    gateway = make_gateway(sandbox, settings=sandbox_settings(sandbox, sf_api_budget_share=0.8))
    sandbox.set_api_limit(100, used=78)
    gateway.query(QUERY)  # 79/100: below the share
    gateway.query(QUERY)  # 80/100: Salesforce answered, and the header says we reached 80 %
    with pytest.raises(BudgetExhausted) as raised:
        gateway.query(QUERY)
    assert "80.0%" in str(raised.value)
    assert sandbox.api_usage()["used"] == 80  # the refused call never left
    assert gateway.calls_by_operation == {"query": 2}

    # An operator raises the limit: one explicit probe lets calls resume at once.
    sandbox.set_api_limit(1000, used=80)
    with pytest.raises(BudgetExhausted):
        gateway.query(QUERY)  # the old reading still holds
    assert gateway.refresh_budget() == pytest.approx(81 / 1000)
    assert gateway.query(QUERY)["totalSize"] == 1


def test_refresh_budget_after_request_limit_exceeded(
    gateway: SalesforceGateway, sandbox: Any
) -> None:
    sandbox.set_api_limit(1000, used=1000)
    with pytest.raises(RequestLimitExceeded):
        gateway.query(QUERY)
    with pytest.raises(RequestLimitExceeded):
        gateway.query(QUERY)  # quiet: no call leaves
    assert sandbox.api_usage()["used"] == 1000
    sandbox.set_api_limit(5000, used=0)
    assert gateway.refresh_budget() == pytest.approx(1 / 5000)
    assert gateway.query(QUERY)["totalSize"] == 1


def test_write_stopped_part_way_reports_what_was_written(sandbox: Any) -> None:
    gateway = make_gateway(sandbox, settings=sandbox_settings(sandbox, sf_api_budget_share=0.5))
    company = f"f-{uuid.uuid4().hex[:8]}"
    sandbox.set_api_limit(100, used=48)
    records = [{"LastName": f"B{i}", "Company": company} for i in range(401)]
    with pytest.raises(BudgetExhausted) as raised:
        gateway.create("Lead", records)  # calls 1 and 2 land (49, 50 of 100), call 3 refused
    completed = raised.value.completed
    assert len(completed) == 400 and all(r.success for r in completed)
    sandbox.set_api_limit(1_000_000, used=0)
    gateway.usage.reset()
    stored = gateway.query_all(format_soql("SELECT Id FROM Lead WHERE Company = {}", company))
    assert {r["Id"] for r in stored} == {r.id for r in completed}


def test_latency_is_survived_within_timeout(sandbox: Any) -> None:
    gateway = make_gateway(sandbox, settings=sandbox_settings(sandbox, sf_timeout_seconds=5.0))
    sandbox.set_faults({"kind": "latency", "path": "/query", "latency_ms": 300, "times": 1})
    assert gateway.query(QUERY)["totalSize"] == 1


def test_read_timeout_on_a_query_is_retried(sandbox: Any) -> None:
    gateway = make_gateway(sandbox, settings=sandbox_settings(sandbox, sf_timeout_seconds=0.3))
    gateway.query(QUERY)
    before = sandbox.api_usage()["used"]
    sandbox.set_faults({"kind": "latency", "path": "/query", "latency_ms": 1000, "times": 1})
    assert gateway.query(QUERY)["totalSize"] == 1
    # The timed-out request counts too: it was sent, and the org billed it.
    assert gateway.calls_by_operation == {"query": 3}
    time.sleep(1.0)  # the abandoned request finishes its injected latency on the server
    assert sandbox.api_usage()["used"] - before == 2
