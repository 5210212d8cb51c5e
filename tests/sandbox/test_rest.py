"""REST shapes through simple-salesforce over real HTTPS, field by field."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from sandbox.ids import make_id
from sandbox.testing import SandboxProcess

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
LIMIT_INFO = re.compile(r"^api-usage=\d+/\d+$")


MISSING_LEAD = make_id("00Q", 987654321)


def test_versions_and_resources(api: Callable[..., Any], sandbox: SandboxProcess) -> None:
    response = api("GET", f"{sandbox.instance_url}/services/data/")
    assert response.status_code == 200
    assert LIMIT_INFO.match(response.headers["Sforce-Limit-Info"])
    versions = response.json()
    assert {"label", "url", "version"} <= set(versions[0])
    assert any(v["version"] == "60.0" and v["url"] == "/services/data/v60.0" for v in versions)
    resources = api("GET", "").json()
    assert resources["query"] == "/services/data/v60.0/query"


def test_describe_global(sf: Salesforce) -> None:
    described = sf.describe()
    assert described["maxBatchSize"] == 200
    by_name = {o["name"]: o for o in described["sobjects"]}
    assert {"User", "Lead", "Contact", "Account", "Opportunity", "LeadStatus"} <= set(by_name)
    prefixes = {name: by_name[name]["keyPrefix"] for name in ("Account", "Contact", "Lead",
                                                             "Opportunity", "User")}  # fmt: skip
    assert prefixes == {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006",
                        "User": "005"}  # fmt: skip
    assert by_name["Lead"]["urls"]["describe"] == "/services/data/v60.0/sobjects/Lead/describe"


def test_describe_fields(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    for f in fields.values():
        assert {"name", "type", "label", "updateable", "createable", "nillable", "custom"} <= set(f)
    assert fields["Id"]["type"] == "id" and not fields["Id"]["createable"]
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["createable"] is True
    assert (
        fields["SystemModstamp"]["type"] == "datetime"
        and not fields["SystemModstamp"]["updateable"]
    )
    assert fields["OwnerId"]["referenceTo"] == ["User"]
    assert fields["OwnerId"]["relationshipName"] == "Owner"
    assert fields["IsConverted"]["updateable"] is False
    custom = fields["Match_Score__c"]
    assert custom["custom"] is True and custom["type"] == "double"
    assert fields["Status"]["custom"] is False
    assert sf.User.describe()["fields"]  # User is described too
    assert sf.Lead.metadata()["objectDescribe"]["keyPrefix"] == "00Q"


def test_create_read_update_delete(sf: Salesforce, sandbox: SandboxProcess) -> None:
    created = sf.Lead.create({"LastName": "Crud", "Company": "Crud Inc", "Email": "crud@x.com",
                              "Match_Score__c": 0.5})  # fmt: skip
    assert set(created) == {"id", "success", "errors"}
    assert created["success"] is True and created["errors"] == []
    lead_id = created["id"]
    assert len(lead_id) == 18 and lead_id.startswith("00Q")

    record = sf.Lead.get(lead_id)
    assert record["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v60.0/sobjects/Lead/{lead_id}",
    }
    assert record["Id"] == lead_id and record["Name"] == "Crud"
    assert record["IsDeleted"] is False and record["IsConverted"] is False
    assert record["Status"] == "Open - Not Contacted"
    assert record["Match_Score__c"] == 0.5
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert DATETIME.match(record[name]), record[name]
    assert record["CreatedById"] == sandbox.integration_user_id
    assert record["LastModifiedById"] == sandbox.integration_user_id
    assert record["OwnerId"] == sandbox.integration_user_id

    assert sf.Lead.get(lead_id[:15])["Id"] == lead_id  # 15-character ids accepted
    subset = sf.Lead.get(lead_id, params={"fields": "Id,Email"})
    assert list(subset) == ["attributes", "Id", "Email"]

    assert sf.Lead.update(lead_id, {"FirstName": "Ada"}) == 204
    updated = sf.Lead.get(lead_id)
    assert updated["Name"] == "Ada Crud"
    assert updated["SystemModstamp"] > record["SystemModstamp"]
    assert updated["CreatedDate"] == record["CreatedDate"]

    assert sf.Lead.delete(lead_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get(lead_id)
    assert caught.value.content == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
    ]
    soql = format_soql("SELECT Id, IsDeleted FROM Lead WHERE Id = {}", lead_id)
    assert sf.query(soql)["totalSize"] == 0
    deleted = sf.query_all(soql, include_deleted=True)["records"]
    assert deleted[0]["IsDeleted"] is True


def test_caller_is_recorded_as_modifier(sandbox: SandboxProcess) -> None:
    rep = sandbox.create("User", {"Username": "rep.one@sandbox.bridge.local", "LastName": "One",
                                  "Email": "rep.one@example.com"})  # fmt: skip
    sf_rep = sandbox.salesforce(sandbox.token("password", "rep.one@sandbox.bridge.local"))
    lead_id = sf_rep.Lead.create({"LastName": "Mine", "Company": "Rep Co"})["id"]
    lead = sf_rep.Lead.get(lead_id)
    assert lead["CreatedById"] == rep and lead["LastModifiedById"] == rep and lead["OwnerId"] == rep
    sandbox.salesforce().Lead.update(lead_id, {"Title": "CTO"})
    lead = sf_rep.Lead.get(lead_id)
    assert lead["LastModifiedById"] == sandbox.integration_user_id and lead["CreatedById"] == rep


def test_inactive_owner_is_refused(sf: Salesforce, sandbox: SandboxProcess) -> None:
    gone = sandbox.create("User", {"Username": "gone@sandbox.bridge.local", "LastName": "Gone",
                                   "Email": "gone@example.com", "IsActive": False})  # fmt: skip
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "X", "Company": "Y", "OwnerId": gone})
    assert caught.value.content[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"
    assert caught.value.content[0]["fields"] == ["OwnerId"]
    lead_id = sf.Lead.create({"LastName": "X", "Company": "Y"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead_id, {"OwnerId": gone})
    assert caught.value.content[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ({"Company": "No Name"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "A", "Company": "B", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"]),
        ({"LastName": "A", "Company": "B", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS",
         ["Email"]),
        ({"LastName": "A", "Company": "B", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         ["IsConverted"]),
        ({"LastName": "A", "Company": "B", "OwnerId": "garbage"}, "MALFORMED_ID", ["OwnerId"]),
        ({"LastName": "A", "Company": "B", "Matched_Account__c": "001000000000000AAA"},
         "INVALID_CROSS_REFERENCE_KEY", ["Matched_Account__c"]),
        ({"LastName": "A" * 81, "Company": "B"}, "STRING_TOO_LONG", ["LastName"]),
    ],
)  # fmt: skip
def test_create_errors_are_salesforce_shaped(
    api: Callable[..., Any], body: dict[str, Any], code: str, fields: list[str]
) -> None:
    response = api("POST", "sobjects/Lead", json=body)
    assert response.status_code == 400
    assert response.json() == [{"message": response.json()[0]["message"], "errorCode": code,
                                "fields": fields}]  # fmt: skip
    assert LIMIT_INFO.match(response.headers["Sforce-Limit-Info"])


def test_not_found_and_limit_header(api: Callable[..., Any]) -> None:
    response = api("GET", f"sobjects/Lead/{MISSING_LEAD}")
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"
    assert LIMIT_INFO.match(response.headers["Sforce-Limit-Info"])
    assert api("GET", "sobjects/Nothing/describe").status_code == 404
    bad_json = api(
        "POST", "sobjects/Lead", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


@pytest.mark.parametrize(
    "path", ["nothing", "sobjects/Lead/00Q-not-an-id", "sobjects/Lead/describe/extra"]
)
def test_unknown_resources_are_salesforce_shaped(api: Callable[..., Any], path: str) -> None:
    response = api("GET", path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND",
         "fields": []}
    ]  # fmt: skip
    assert LIMIT_INFO.match(response.headers["Sforce-Limit-Info"])


def test_wrong_method_is_salesforce_shaped(api: Callable[..., Any]) -> None:
    response = api("PUT", "sobjects/Lead", json={"LastName": "X"})
    assert response.status_code == 405
    assert response.json() == [
        {"message": "HTTP Method 'PUT' not allowed. Allowed are GET,HEAD,POST",
         "errorCode": "METHOD_NOT_ALLOWED", "fields": []}
    ]  # fmt: skip
    assert LIMIT_INFO.match(response.headers["Sforce-Limit-Info"])


def test_unsupported_api_versions_are_not_served(
    api: Callable[..., Any], sandbox: SandboxProcess
) -> None:
    base = f"{sandbox.instance_url}/services/data"
    listed = {v["version"] for v in api("GET", f"{base}/").json()}
    for version in ("99.0", "30.0", "60.1"):
        assert version not in listed
        response = api("GET", f"{base}/v{version}/sobjects")
        assert response.status_code == 404, version
        assert response.json()[0]["errorCode"] == "NOT_FOUND"
        assert LIMIT_INFO.match(response.headers["Sforce-Limit-Info"])
    for version in listed:
        assert api("GET", f"{base}/v{version}/limits").status_code == 200, version
    old = sandbox.salesforce(version="31.0")
    assert old.Lead.describe()["urls"]["describe"] == "/services/data/v31.0/sobjects/Lead/describe"


def test_limits_and_usage_header(sf: Salesforce) -> None:
    limits = sf.limits()
    assert set(limits["DailyApiRequests"]) == {"Max", "Remaining"}
    usage = sf.api_usage["api-usage"]
    assert usage.total == limits["DailyApiRequests"]["Max"]
    assert usage.used == usage.total - limits["DailyApiRequests"]["Remaining"]


def test_opportunity_and_contact_references(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Ref Parent"})["id"]
    contact_id = sf.Contact.create({"LastName": "Kid", "AccountId": account_id[:15]})["id"]
    assert sf.Contact.get(contact_id)["AccountId"] == account_id
    opp = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting",
                                 "CloseDate": "2030-01-31", "AccountId": account_id,
                                 "Amount": 1200})  # fmt: skip
    record = sf.Opportunity.get(opp["id"])
    assert record["CloseDate"] == "2030-01-31" and record["Amount"] == 1200.0
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.create({"LastName": "Kid", "AccountId": opp["id"]})  # wrong prefix


def test_lead_statuses_seeded(sf: Salesforce) -> None:
    rows = sf.query("SELECT ApiName, IsConverted, IsDefault FROM LeadStatus ORDER BY SortOrder")
    names = [r["ApiName"] for r in rows["records"]]
    assert names == ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                     "Closed - Not Converted"]  # fmt: skip
    converted = sf.query("SELECT ApiName FROM LeadStatus WHERE IsConverted = true")["records"]
    assert [r["ApiName"] for r in converted] == ["Closed - Converted"]
