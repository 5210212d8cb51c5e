"""SOQL over REST: paging, parent fields, filters, ordering, errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.ids import make_id
from sandbox.testing import SandboxProcess


def _bulk_create(sf: Salesforce, records: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(records), 200):
        chunk = [{"attributes": {"type": "Lead"}, **r} for r in records[start : start + 200]]
        results = sf.restful("composite/sobjects", method="POST",
                             json={"allOrNone": True, "records": chunk})  # fmt: skip
        assert all(r["success"] for r in results)
        ids += [r["id"] for r in results]
    return ids


@pytest.fixture(scope="module")
def paging_company(sf: Salesforce) -> tuple[str, list[str]]:
    company = f"Paging {uuid.uuid4().hex[:8]}"
    ids = _bulk_create(sf, [{"LastName": f"P{i:04d}", "Company": company} for i in range(4500)])
    return company, ids


def test_4500_records_page_in_three_batches(
    sf: Salesforce, paging_company: tuple[str, list[str]]
) -> None:
    company, ids = paging_company
    soql = format_soql(
        "SELECT Id, LastName FROM Lead WHERE Company = {} ORDER BY SystemModstamp, Id", company
    )
    first = sf.query(soql)
    assert first["totalSize"] == 4500 and first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["done"] is False
    assert second["nextRecordsUrl"].endswith("-4000")
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert len(third["records"]) == 500 and third["done"] is True
    assert "nextRecordsUrl" not in third
    seen = [r["Id"] for r in first["records"] + second["records"] + third["records"]]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 4500
    assert [r["Id"] for r in sf.query_all_iter(soql)] == seen


def test_query_locator_by_id_and_invalid(
    sf: Salesforce, paging_company: tuple[str, list[str]]
) -> None:
    company, _ = paging_company
    first = sf.query(format_soql("SELECT Id FROM Lead WHERE Company = {}", company))
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    assert len(sf.query_more(locator)["records"]) == 2000
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01g8d0000000000AAA-2000")
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_keyset_paging_over_shared_timestamps(
    sf: Salesforce, paging_company: tuple[str, list[str]]
) -> None:
    company, ids = paging_company  # 200 records per call share one SystemModstamp
    seen: list[str] = []
    ts, last_id = "2000-01-01T00:00:00Z", "000000000000000AAA"
    while True:
        soql = format_soql(
            "SELECT Id, SystemModstamp FROM Lead WHERE Company = {c} AND "
            "(SystemModstamp > {ts:literal} OR (SystemModstamp = {ts:literal} AND Id > {id})) "
            "ORDER BY SystemModstamp, Id LIMIT 1500",
            c=company, ts=ts, id=last_id,
        )  # fmt: skip
        records = sf.query_all(soql)["records"]
        if not records:
            break
        seen += [r["Id"] for r in records]
        ts, last_id = records[-1]["SystemModstamp"], records[-1]["Id"]
    assert sorted(seen) == sorted(ids)


def test_count_and_limit_offset(sf: Salesforce, paging_company: tuple[str, list[str]]) -> None:
    company, _ = paging_company
    counted = sf.query(format_soql("SELECT COUNT() FROM Lead WHERE Company = {}", company))
    assert counted == {"totalSize": 4500, "done": True, "records": []}
    page = sf.query(format_soql(
        "SELECT LastName FROM Lead WHERE Company = {} ORDER BY LastName DESC LIMIT 3 OFFSET 2",
        company))  # fmt: skip
    assert [r["LastName"] for r in page["records"]] == ["P4497", "P4496", "P4495"]


def test_parent_fields_and_filters(sf: Salesforce, sandbox: SandboxProcess) -> None:
    tag = uuid.uuid4().hex[:8]
    inactive = sandbox.create("User", {"Username": f"old{tag}@sandbox.bridge.local",
                                       "LastName": "Old", "Email": "old@example.com"})  # fmt: skip
    account = sf.Account.create({"Name": f"Parent {tag}", "OwnerId": inactive})["id"]
    sandbox.update("User", inactive, {"IsActive": False})
    sf.Contact.create({"LastName": f"C1{tag}", "AccountId": account, "Email": "O'Neil@x.com"})
    sf.Contact.create({"LastName": f"C2{tag}", "Email": None})
    soql = format_soql(
        "SELECT Id, LastName, Account.Name, Account.Owner.IsActive, Owner.Name FROM Contact "
        "WHERE LastName LIKE {} ORDER BY LastName", f"C_{tag}")  # fmt: skip
    records = sf.query(soql)["records"]
    assert [r["LastName"] for r in records] == [f"C1{tag}", f"C2{tag}"]
    first, second = records
    assert first["Account"]["attributes"] == {
        "type": "Account", "url": f"/services/data/v60.0/sobjects/Account/{account}"}  # fmt: skip
    assert first["Account"]["Name"] == f"Parent {tag}"
    assert first["Account"]["Owner"]["IsActive"] is False
    assert first["Owner"]["Name"] == "Bridge Integration"
    assert second["Account"] is None

    # escaped quote, case-insensitive equality, != includes nulls, IN with null, NOT
    def by(where: str, *args: Any) -> set[str]:
        template = "SELECT LastName FROM Contact WHERE LastName LIKE {} AND " + where  # noqa: S608
        return {
            r["LastName"] for r in sf.query(format_soql(template, f"C_{tag}", *args))["records"]
        }

    assert by("Email = {}", "o'neil@X.com") == {f"C1{tag}"}
    assert by("Email != {}", "o'neil@x.com") == {f"C2{tag}"}
    assert by("Email IN ({}, null)", "nobody@x.com") == {f"C2{tag}"}
    assert by("(NOT Email LIKE '%x.com')") == {f"C2{tag}"}
    assert by("Account.Owner.IsActive = false") == {f"C1{tag}"}
    assert by("CreatedDate = TODAY AND CreatedDate > 2020-01-01T00:00:00.000+0000") == {
        f"C1{tag}", f"C2{tag}"}  # fmt: skip
    nulls_last = sf.query(format_soql(
        "SELECT LastName FROM Contact WHERE LastName LIKE {} ORDER BY Email ASC NULLS LAST",
        f"C_{tag}"))["records"]  # fmt: skip
    assert [r["LastName"] for r in nulls_last] == [f"C1{tag}", f"C2{tag}"]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FRM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ],
)
def test_query_errors(api: Callable[..., Any], soql: str, code: str) -> None:
    response = api("GET", "query", params={"q": soql})
    assert response.status_code == 400
    body = response.json()
    assert body[0]["errorCode"] == code and body[0]["message"]


def test_batch_size_header(api: Callable[..., Any], paging_company: tuple[str, list[str]]) -> None:
    company, _ = paging_company
    soql = format_soql("SELECT Id FROM Lead WHERE Company = {}", company)
    response = api(
        "GET", "query", params={"q": soql}, headers={"Sforce-Query-Options": "batchSize=500"}
    )
    assert len(response.json()["records"]) == 500


def _in_query(count: int) -> str:
    ids = [make_id("00Q", 900_000_000 + n) for n in range(count)]
    return format_soql("SELECT Id FROM Lead WHERE Id IN {}", ids)


def test_request_size_limit_is_salesforces(
    api: Callable[..., Any], sandbox: SandboxProcess
) -> None:
    # Salesforce takes up to 16,384 bytes of URI + headers; 550 ids make a ~15,000-byte URI.
    fits = api("GET", "query", params={"q": _in_query(550)})
    assert len(fits.request.path_url) > 14_500
    assert fits.status_code == 200 and fits.json()["totalSize"] == 0
    used = sandbox.api_usage()["used"]
    too_long = api("GET", "query", params={"q": _in_query(700)})
    assert len(too_long.request.path_url) > 16_384
    assert too_long.status_code == 414
    assert "Sforce-Limit-Info" not in too_long.headers  # refused at the door, not counted
    too_big = api("GET", "query", params={"q": _in_query(550)}, headers={"X-Pad": "x" * 2_000})
    assert too_big.status_code == 431
    assert sandbox.api_usage()["used"] == used
