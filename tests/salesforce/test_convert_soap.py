"""convertLead SOAP: envelope element order, escaping, result and fault parsing (no I/O)."""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as SafeET
import pytest

from bridge.salesforce import convert
from bridge.salesforce.convert import ELEMENT_ORDER, LeadConvert
from bridge.salesforce.errors import (
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
    TransientError,
)

SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
URN = "{urn:partner.soap.sforce.com}"
LEAD = "00Q000000000001"
ACCOUNT = "0015000000Gv7qJ"
CONTACT = "003000000000001"
USER = "005000000000001"


def _converts(root: Any) -> list[Any]:
    return root.findall(f"{SOAP}Body/{URN}convertLead/{URN}leadConverts")


def test_envelope_has_session_header_and_every_element_in_sequence_order() -> None:
    full = LeadConvert(
        lead_id=LEAD,
        converted_status="Closed - Converted",
        account_id=ACCOUNT,
        contact_id=CONTACT,
        do_not_create_opportunity=False,
        opportunity_name="Big deal",
        overwrite_lead_source=True,
        owner_id=USER,
        send_notification_email=True,
    )
    body = convert.build_envelope("SESSION-123", [full])
    root = SafeET.fromstring(body)
    assert root.tag == f"{SOAP}Envelope"
    assert root.find(f"{SOAP}Header/{URN}SessionHeader/{URN}sessionId").text == "SESSION-123"
    (item,) = _converts(root)
    names = [child.tag.removeprefix(URN) for child in item]
    assert names == list(ELEMENT_ORDER)
    assert names == [
        "accountId",
        "contactId",
        "convertedStatus",
        "doNotCreateOpportunity",
        "leadId",
        "opportunityName",
        "overwriteLeadSource",
        "ownerId",
        "sendNotificationEmail",
    ]
    values = {child.tag.removeprefix(URN): child.text for child in item}
    assert values == {
        "accountId": "0015000000Gv7qJAAR",
        "contactId": "003000000000001AAA",
        "convertedStatus": "Closed - Converted",
        "doNotCreateOpportunity": "false",
        "leadId": "00Q000000000001EAA",
        "opportunityName": "Big deal",
        "overwriteLeadSource": "true",
        "ownerId": "005000000000001AAA",
        "sendNotificationEmail": "true",
    }


def test_optional_elements_left_out_but_order_kept() -> None:
    body = convert.build_envelope("s", [LeadConvert(lead_id=LEAD, converted_status="Qualified")])
    (item,) = _converts(SafeET.fromstring(body))
    names = [child.tag.removeprefix(URN) for child in item]
    assert names == [
        "convertedStatus",
        "doNotCreateOpportunity",
        "leadId",
        "overwriteLeadSource",
        "sendNotificationEmail",
    ]


def test_values_are_xml_escaped_not_injected() -> None:
    evil = "</urn:convertedStatus><urn:ownerId>005000000000009</urn:ownerId>&"
    body = convert.build_envelope("a<b&c", [LeadConvert(lead_id=LEAD, converted_status=evil)])
    root = SafeET.fromstring(body)
    (item,) = _converts(root)
    assert item.find(f"{URN}convertedStatus").text == evil
    assert item.find(f"{URN}ownerId") is None
    assert root.find(f"{SOAP}Header/{URN}SessionHeader/{URN}sessionId").text == "a<b&c"


def test_ids_are_checked_per_object() -> None:
    with pytest.raises(ValueError):
        LeadConvert(lead_id=ACCOUNT, converted_status="X").elements()
    with pytest.raises(ValueError):
        LeadConvert(lead_id=LEAD, converted_status="X", account_id=CONTACT).elements()
    with pytest.raises(ValueError):
        LeadConvert(lead_id=LEAD).elements()  # no status
    with pytest.raises(ValueError):
        convert.build_envelope("s", [])
    with pytest.raises(ValueError):
        convert.build_envelope("s", [LeadConvert(lead_id=LEAD, converted_status="X")] * 201)


RESPONSE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soapenv:Header>
    <LimitInfoHeader><limitInfo><current>42</current><limit>5000</limit>
      <type>API REQUESTS</type></limitInfo></LimitInfoHeader>
  </soapenv:Header>
  <soapenv:Body>
    <convertLeadResponse>
      <result>
        <accountId>0015000000Gv7qJAAR</accountId>
        <contactId>003000000000001AAA</contactId>
        <leadId>00Q000000000001EAA</leadId>
        <opportunityId xsi:nil="true"/>
        <success>true</success>
      </result>
      <result>
        <accountId xsi:nil="true"/>
        <contactId xsi:nil="true"/>
        <errors>
          <fields>Status</fields>
          <fields>OwnerId</fields>
          <message>invalid converted status</message>
          <statusCode>INVALID_STATUS</statusCode>
        </errors>
        <errors>
          <message>unable to obtain exclusive access to this record</message>
          <statusCode>UNABLE_TO_LOCK_ROW</statusCode>
        </errors>
        <leadId>00Q000000000002EAA</leadId>
        <opportunityId xsi:nil="true"/>
        <success>false</success>
      </result>
    </convertLeadResponse>
  </soapenv:Body>
</soapenv:Envelope>"""


def test_results_parsed_per_input() -> None:
    ok, failed = convert.parse_response(RESPONSE, expected=2)
    assert ok.success and ok.lead_id == "00Q000000000001EAA"
    assert ok.account_id == "0015000000Gv7qJAAR" and ok.contact_id == "003000000000001AAA"
    assert ok.opportunity_id is None and ok.errors == ()
    assert not failed.success and failed.account_id is None
    assert [e.status_code for e in failed.errors] == ["INVALID_STATUS", "UNABLE_TO_LOCK_ROW"]
    assert failed.errors[0].fields == ("Status", "OwnerId")
    assert failed.is_lock_failure and not ok.is_lock_failure
    assert convert.parse_limit_info(RESPONSE).used == 42


def test_result_count_must_match() -> None:
    with pytest.raises(SalesforceError, match="expected 3"):
        convert.parse_response(RESPONSE, expected=3)


def _fault(code: str, message: str = "boom") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:sf="urn:fault.partner.soap.sforce.com">
  <soapenv:Body><soapenv:Fault>
    <faultcode>{code}</faultcode><faultstring>{message}</faultstring>
  </soapenv:Fault></soapenv:Body></soapenv:Envelope>""".encode()


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("sf:INVALID_SESSION_ID", SessionExpired),
        ("sf:REQUEST_LIMIT_EXCEEDED", RequestLimitExceeded),
        ("sf:UNABLE_TO_LOCK_ROW", TransientError),
        ("sf:INVALID_FIELD", SalesforceError),
        ("soapenv:Client", SalesforceError),
    ],
    ids=["session", "limit", "lock", "field", "generic"],
)
def test_faults_map_to_typed_errors_regardless_of_http_500(code: str, cls: type) -> None:
    error = convert.parse_fault(_fault(code), status=500)
    assert type(error) is cls
    assert error.error_code == code.split(":")[1]
    assert error.status == 500
    with pytest.raises(cls):
        convert.parse_response(_fault(code), expected=1)


def test_generic_fault_code_takes_the_faultstring_code() -> None:
    body = _fault("soapenv:Client", "INVALID_XML: Unexpected element convertedStatus")
    error = convert.parse_fault(body, status=500)
    assert type(error) is SalesforceError and error.error_code == "INVALID_XML"


def test_fault_detail_exception_code_wins() -> None:
    body = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>
      <faultcode>soapenv:Client</faultcode><faultstring>x</faultstring>
      <detail><sf:UnexpectedErrorFault><sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode>
      </sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    assert isinstance(convert.parse_fault(body), SessionExpired)


def test_hostile_xml_is_refused() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">
      <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
      <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
      <soapenv:Body>&b;</soapenv:Body></soapenv:Envelope>"""
    with pytest.raises(SalesforceError, match="unreadable"):
        convert.parse_response(bomb, expected=1)
    assert convert.parse_fault(bomb) is None
    with pytest.raises(SalesforceError):
        convert.parse_response(b"<html>503</html>", expected=1)
