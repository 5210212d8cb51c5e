"""Injected faults, by script (next N calls) and by probability."""

from __future__ import annotations

import time

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from sandbox.testing import SandboxProcess


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("500", 500, "UNKNOWN_EXCEPTION"), ("503", 503, "SERVER_UNAVAILABLE")],
)
def test_server_errors_next_call_only(
    sf: Salesforce, sandbox: SandboxProcess, kind: str, status: int, code: str
) -> None:  # fmt: skip
    sandbox.add_fault(kind=kind, path="/query", times=1)
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT COUNT() FROM Lead")
    assert caught.value.status == status and caught.value.content[0]["errorCode"] == code
    assert sf.query("SELECT COUNT() FROM Lead")["done"] is True
    assert sandbox.faults()[0]["hits"] == 1 and sandbox.faults()[0]["times"] == 0


def test_unable_to_lock_row_top_level_on_writes_only(
    sf: Salesforce, sandbox: SandboxProcess
) -> None:
    lead_id = sf.Lead.create({"LastName": "Lock", "Company": "Lock Co"})["id"]
    sandbox.add_fault(kind="UNABLE_TO_LOCK_ROW", path="/sobjects/Lead", times=1)
    assert sf.Lead.get(lead_id)["Id"] == lead_id  # reads are not locked
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead_id, {"Title": "x"})
    assert caught.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert sf.Lead.update(lead_id, {"Title": "x"}) == 204


def test_unable_to_lock_row_per_record_in_collections(
    sf: Salesforce, sandbox: SandboxProcess
) -> None:
    sandbox.add_fault(kind="UNABLE_TO_LOCK_ROW_RECORDS", path="composite/sobjects",
                      record_indexes=[1], times=1)  # fmt: skip
    records = [{"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "C"}
               for i in range(3)]  # fmt: skip
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": records})  # fmt: skip
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_request_limit_exceeded_fault(sf: Salesforce, sandbox: SandboxProcess) -> None:
    sandbox.add_fault(kind="REQUEST_LIMIT_EXCEEDED", times=1)
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.limits()
    assert caught.value.status == 403
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_invalid_session_fault_and_real_expiry(sandbox: SandboxProcess) -> None:
    token = sandbox.token()
    sf = sandbox.salesforce(token)
    sandbox.add_fault(kind="INVALID_SESSION_ID", times=1)
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()
    assert sf.limits()  # the token itself is still good
    sandbox.add_fault(kind="EXPIRE_SESSION", times=1)
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()  # now really expired


def test_latency(sf: Salesforce, sandbox: SandboxProcess) -> None:
    sandbox.add_fault(kind="latency", latency_ms=400, times=1)
    started = time.monotonic()
    sf.limits()
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    sf.limits()
    assert time.monotonic() - started < 0.4


def test_probability(sf: Salesforce, sandbox: SandboxProcess) -> None:
    sandbox.add_fault(kind="503", path="/limits", probability=0.5)
    outcomes = []
    for _ in range(30):
        try:
            sf.limits()
            outcomes.append(True)
        except SalesforceGeneralError:
            outcomes.append(False)
    assert 3 < outcomes.count(False) < 27


def test_soap_fault_and_lock_in_convert(sf: Salesforce, sandbox: SandboxProcess) -> None:
    from tests.sandbox.test_convert import envelope, results, soap

    lead_id = sf.Lead.create({"LastName": "Soapy", "Company": "Soap Co"})["id"]
    sandbox.add_fault(kind="500", path="/Soap/", times=1)
    body = envelope(sandbox.token(), [[("convertedStatus", "Closed - Converted"),
                                       ("leadId", lead_id)]])  # fmt: skip
    status, root = soap(sandbox, body)
    assert status == 500 and "UNKNOWN_EXCEPTION" in root.find(".//faultcode").text
    sandbox.add_fault(kind="UNABLE_TO_LOCK_ROW_RECORDS", path="/Soap/", times=1)
    status, root = soap(sandbox, body)
    (result,) = results(root)
    assert (
        result["success"] == "false" and result["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    )
    (result,) = results(soap(sandbox, body)[1])
    assert result["success"] == "true"


def test_bad_rule_rejected(sandbox: SandboxProcess) -> None:
    with pytest.raises(RuntimeError):
        sandbox.add_fault(kind="NOPE")
