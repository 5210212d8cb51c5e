"""The response shapes from notes/salesforce.md, checked field by field over real HTTPS.

Plain simple-salesforce talks to the sandbox here, so these pin what the gateway relies on.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest

from bridge.salesforce import convert, ids

SF_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
LIMIT_INFO = re.compile(r"api-usage=\d+/\d+")


def _valid_id(value: str, sobject: str) -> bool:
    return len(value) == 18 and ids.is_valid(value, sobject)


def test_token_response_fields(sandbox: Any) -> None:
    body = sandbox.token_response()
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} <= set(
        body
    )
    assert body["instance_url"] == sandbox.instance_url
    assert body["instance_url"].startswith("https://")
    assert body["token_type"] == "Bearer"
    assert body["issued_at"].isdigit()
    assert body["id"].endswith(f"/id/{sandbox.org_id}/{sandbox.integration_user_id}")


def test_create_201_update_204_and_record_shape(raw_sf: Any, sandbox: Any) -> None:
    created = raw_sf.Lead.create({"LastName": "Shape", "Company": "Shape Co"})
    assert list(created) == ["id", "success", "errors"]
    assert created["success"] is True and created["errors"] == []
    assert _valid_id(created["id"], "Lead")
    assert raw_sf.Lead.update(created["id"], {"Company": "Shape Co 2"}) == 204

    record = raw_sf.Lead.get(created["id"])
    assert record["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v60.0/sobjects/Lead/{created['id']}",
    }
    assert record["Company"] == "Shape Co 2"
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert SF_DATETIME.fullmatch(record[name]), (name, record[name])
    assert record["IsDeleted"] is False
    # The caller (client credentials run as the integration user) is the last modifier.
    assert record["LastModifiedById"] == sandbox.integration_user_id


def test_query_shape_and_paging_url(raw_sf: Any, gateway: Any) -> None:
    company = f"Paging-{uuid.uuid4().hex[:8]}"
    results = gateway.create(
        "Lead", [{"LastName": f"P{i}", "Company": company} for i in range(2001)]
    )
    assert all(r.success for r in results)

    first = raw_sf.query(format_soql("SELECT Id, LastName FROM Lead WHERE Company = {}", company))
    assert list(first) == ["totalSize", "done", "nextRecordsUrl", "records"]
    assert first["totalSize"] == 2001 and first["done"] is False
    assert re.fullmatch(
        r"/services/data/v60\.0/query/01g[A-Za-z0-9]+-2000", first["nextRecordsUrl"]
    )
    assert len(first["records"]) == 2000
    one = first["records"][0]
    assert list(one) == ["attributes", "Id", "LastName"]
    assert one["attributes"]["type"] == "Lead"
    assert one["attributes"]["url"] == f"/services/data/v60.0/sobjects/Lead/{one['Id']}"
    assert _valid_id(one["Id"], "Lead")

    rest = raw_sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] is True and "nextRecordsUrl" not in rest
    assert rest["totalSize"] == 2001 and len(rest["records"]) == 1


def test_top_level_error_shape(raw_sf: Any, sandbox: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as bad:
        raw_sf.query("SELEC Id FROM Lead")
    (error,) = bad.value.content
    assert list(error) == ["message", "errorCode", "fields"]
    assert error["errorCode"] == "MALFORMED_QUERY" and error["fields"] == []

    expired = sandbox.salesforce(token="not-a-token")
    with pytest.raises(SalesforceExpiredSession) as denied:
        expired.query("SELECT Id FROM Lead")
    assert denied.value.status == 401
    assert denied.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_collections_201_records_refused_and_result_shape(raw_sf: Any) -> None:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": f"C{i}", "Company": "Coll"} for i in range(201)
    ]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        raw_sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
        )
    assert refused.value.status == 400
    assert refused.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"

    good = {"attributes": {"type": "Lead"}, "LastName": "Good", "Company": "Coll"}
    bad = {"attributes": {"type": "Lead"}, "LastName": "Bad", "Company": "Coll", "Nope__c": 1}
    answer = raw_sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": [good, bad]}
    )
    assert [list(item) for item in answer] == [["id", "success", "errors"]] * 2
    assert answer[0]["success"] is True and _valid_id(answer[0]["id"], "Lead")
    assert answer[1]["success"] is False and answer[1]["id"] is None
    (error,) = answer[1]["errors"]
    assert list(error) == ["statusCode", "message", "fields"]  # statusCode, not errorCode
    assert error["statusCode"] == "INVALID_FIELD" and error["fields"] == ["Nope__c"]

    rolled_back = raw_sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": [good, bad]}
    )
    assert rolled_back[0]["success"] is False
    assert rolled_back[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def test_limit_info_header_on_every_response(sandbox: Any) -> None:
    session = sandbox.session()
    auth = {"Authorization": f"Bearer {sandbox.token()}"}
    base = f"{sandbox.instance_url}/services/data/v60.0"
    for response in (
        session.get(f"{base}/limits", headers=auth),
        session.get(f"{base}/query", params={"q": "SELECT Id FROM Lead LIMIT 1"}, headers=auth),
        session.get(f"{base}/query", params={"q": "SELEC"}, headers=auth),
        session.get(f"{base}/limits", headers={"Authorization": "Bearer nope"}),
    ):
        assert LIMIT_INFO.fullmatch(response.headers["Sforce-Limit-Info"]), response.status_code


def test_soap_convert_lead_shapes_and_element_order(sandbox: Any, raw_sf: Any) -> None:
    lead = raw_sf.Lead.create({"LastName": "Soap", "Company": "Soap Co"})["id"]
    url = f"{sandbox.instance_url}/services/Soap/u/60.0"
    headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'}
    item = convert.LeadConvert(lead_id=lead, converted_status="Closed - Converted")
    envelope = convert.build_envelope(sandbox.token(), [item]).decode()

    # Out of sequence order (leadId before convertedStatus): refused as a SOAP fault.
    lead_element = re.search(r"<urn:leadId>.*?</urn:leadId>", envelope).group(0)
    swapped = envelope.replace(lead_element, "").replace(
        "<urn:convertedStatus>", lead_element + "<urn:convertedStatus>"
    )
    refused = sandbox.session().post(url, data=swapped.encode(), headers=headers)
    assert refused.status_code == 500
    fault = convert.parse_fault(refused.content, refused.status_code)
    assert fault is not None and fault.error_code == "INVALID_XML"

    answered = sandbox.session().post(url, data=envelope.encode(), headers=headers)
    assert answered.status_code == 200
    assert LIMIT_INFO.fullmatch(answered.headers["Sforce-Limit-Info"])
    root = SafeET.fromstring(answered.content)
    (result,) = root.iter("{urn:partner.soap.sforce.com}result")
    names = [child.tag.rsplit("}", 1)[1] for child in result]
    assert names == ["accountId", "contactId", "leadId", "opportunityId", "success"]
    assert convert.parse_limit_info(answered.content) is not None
    (parsed,) = convert.parse_response(answered.content, expected=1)
    assert parsed.success and parsed.lead_id == lead
    assert _valid_id(parsed.account_id, "Account") and _valid_id(parsed.contact_id, "Contact")
