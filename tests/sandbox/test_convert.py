"""SOAP convertLead: element order, statuses, existing account/contact, results per input."""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import pytest
from simple_salesforce import Salesforce

from sandbox.ids import make_id
from sandbox.testing import SandboxProcess

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:partner.soap.sforce.com"


MISSING_LEAD = make_id("00Q", 987654321)


def envelope(token: str, converts: list[list[tuple[str, Any]]]) -> str:
    def element(name: str, value: Any) -> str:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return f"<urn:{name}>{escape(text)}</urn:{name}>"

    items = "".join(
        "<urn:leadConverts>" + "".join(element(k, v) for k, v in fields) + "</urn:leadConverts>"
        for fields in converts
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{ENV}" '
        f'xmlns:urn="{NS}"><soapenv:Header><urn:SessionHeader><urn:sessionId>{escape(token)}'
        "</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:convertLead>"
        f"{items}</urn:convertLead></soapenv:Body></soapenv:Envelope>"
    )


def soap(sandbox: SandboxProcess, body: str, version: str = "60.0") -> tuple[int, Any]:
    response = sandbox.session().post(
        f"{sandbox.instance_url}/services/Soap/u/{version}", data=body.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'},
    )  # fmt: skip
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    return response.status_code, SafeET.fromstring(response.content)


def results(root: Any) -> list[dict[str, Any]]:
    out = []
    for node in root.iter(f"{{{NS}}}result"):
        item: dict[str, Any] = {}
        for child in node:
            name = child.tag.split("}")[1]
            if name == "errors":
                item.setdefault("errors", []).append({c.tag.split("}")[1]: c.text for c in child})
            else:
                item[name] = child.text
        out.append(item)
    return out


@pytest.fixture
def lead(sf: Salesforce) -> str:
    return str(sf.Lead.create({"FirstName": "Grace", "LastName": "Hopper",
                               "Company": f"Navy {uuid.uuid4().hex[:6]}",
                               "Email": "grace@navy.example", "Phone": "555-0100",
                               "LeadSource": "Web", "City": "Arlington"})["id"])  # fmt: skip


def test_convert_into_existing_account(sf: Salesforce, sandbox: SandboxProcess, lead: str) -> None:
    account = sf.Account.create({"Name": "Existing Navy", "Phone": "555-9999"})["id"]
    status, root = soap(sandbox, envelope(sandbox.token(), [[
        ("accountId", account), ("convertedStatus", "Closed - Converted"),
        ("doNotCreateOpportunity", True), ("leadId", lead)]]))  # fmt: skip
    assert status == 200
    (result,) = results(root)
    assert result["success"] == "true" and result["accountId"] == account
    assert result["leadId"] == lead and result["contactId"].startswith("003")
    assert result.get("opportunityId") is None
    converted = sf.Lead.get(lead)
    assert converted["IsConverted"] is True and converted["Status"] == "Closed - Converted"
    assert converted["ConvertedAccountId"] == account
    assert converted["ConvertedContactId"] == result["contactId"]
    assert converted["ConvertedOpportunityId"] is None and converted["ConvertedDate"]
    acc = sf.Account.get(account)
    assert acc["Name"] == "Existing Navy" and acc["Phone"] == "555-9999"  # not overwritten
    assert acc["BillingCity"] == "Arlington"  # empty field filled
    contact = sf.Contact.get(result["contactId"])
    assert contact["AccountId"] == account and contact["Email"] == "grace@navy.example"


def test_convert_creates_records_and_results_in_order(
    sf: Salesforce, sandbox: SandboxProcess, lead: str
) -> None:
    other = sf.Lead.create({"LastName": "Second", "Company": "Two Co"})["id"]
    status, root = soap(sandbox, envelope(sandbox.token(), [
        [("convertedStatus", "Closed - Converted"), ("leadId", lead),
         ("opportunityName", "Navy deal")],
        [("convertedStatus", "Working - Contacted"), ("leadId", other)],
        [("convertedStatus", "Closed - Converted"), ("leadId", MISSING_LEAD)],
    ]))  # fmt: skip
    assert status == 200
    first, second, third = results(root)
    assert first["success"] == "true" and first["opportunityId"].startswith("006")
    assert sf.Opportunity.get(first["opportunityId"])["Name"] == "Navy deal"
    assert sf.Account.get(first["accountId"])["Name"].startswith("Navy ")
    assert second["success"] == "false" and second["leadId"] == other
    assert second["errors"][0]["statusCode"] == "INVALID_STATUS"
    assert third["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.Lead.get(other)["IsConverted"] is False

    # converting again fails like Salesforce
    _, root = soap(sandbox, envelope(sandbox.token(), [[
        ("convertedStatus", "Closed - Converted"), ("leadId", lead)]]))  # fmt: skip
    (again,) = results(root)
    assert again["success"] == "false"
    assert again["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_convert_into_existing_contact(sf: Salesforce, sandbox: SandboxProcess, lead: str) -> None:
    account = sf.Account.create({"Name": "Holder"})["id"]
    contact = sf.Contact.create({"LastName": "Hopper", "AccountId": account})["id"]
    _, root = soap(
        sandbox,
        envelope(
            sandbox.token(),
            [
                [
                    ("accountId", account),
                    ("contactId", contact),
                    ("convertedStatus", "Closed - Converted"),
                    ("doNotCreateOpportunity", True),
                    ("leadId", lead),
                    ("overwriteLeadSource", True),
                ]
            ],
        ),
    )
    (result,) = results(root)  # fmt: skip
    assert result["success"] == "true" and result["contactId"] == contact
    filled = sf.Contact.get(contact)
    assert filled["Email"] == "grace@navy.example" and filled["LeadSource"] == "Web"


def test_element_order_is_enforced(sandbox: SandboxProcess, lead: str) -> None:
    status, root = soap(sandbox, envelope(sandbox.token(), [[
        ("leadId", lead), ("convertedStatus", "Closed - Converted")]]))  # fmt: skip
    assert status == 500
    assert root.find(f".//{{{ENV}}}Fault/faultcode").text == "soapenv:Client"


def test_bad_session_is_a_soap_fault(sandbox: SandboxProcess, lead: str) -> None:
    status, root = soap(sandbox, envelope("00Dbogus!token", [[
        ("convertedStatus", "Closed - Converted"), ("leadId", lead)]]))  # fmt: skip
    assert status == 500
    fault = root.find(f".//{{{ENV}}}Fault")
    assert fault.find("faultcode").text == "sf:INVALID_SESSION_ID"
    assert "INVALID_SESSION_ID" in fault.find("faultstring").text


def test_unsupported_version_is_a_soap_fault(
    sf: Salesforce, sandbox: SandboxProcess, lead: str
) -> None:
    status, root = soap(sandbox, envelope(sandbox.token(), [[
        ("convertedStatus", "Closed - Converted"), ("leadId", lead)]]), version="99.0")  # fmt: skip
    assert status == 500
    fault = root.find(f".//{{{ENV}}}Fault")
    assert fault.find("faultcode").text == "sf:UNSUPPORTED_API_VERSION"
    assert sf.Lead.get(lead)["IsConverted"] is False


def test_entities_are_refused(sandbox: SandboxProcess) -> None:
    body = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
            f'<soapenv:Envelope xmlns:soapenv="{ENV}"><soapenv:Body>&e;</soapenv:Body>'
            "</soapenv:Envelope>")  # fmt: skip
    status, root = soap(sandbox, body)
    assert status == 500 and root.find(f".//{{{ENV}}}Fault") is not None
