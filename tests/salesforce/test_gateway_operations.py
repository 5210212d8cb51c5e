"""Every gateway operation against the sandbox over HTTPS, with exact API call counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from simple_salesforce import format_soql

from bridge.salesforce import (
    InvalidId,
    LeadConvert,
    SalesforceError,
    SalesforceGateway,
    UnknownFields,
    ids,
    soql,
)

from .conftest import make_gateway


def _tag() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _leads(company: str, n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"LastName": f"Lead {i}", "Company": company, **extra} for i in range(n)]


def _request_bodies(gateway: SalesforceGateway) -> list[bytes | str | None]:
    """Record request bodies as they leave, to see how calls were chunked."""
    bodies: list[bytes | str | None] = []
    gateway.connection.session.hooks["response"].append(
        lambda r, *a, **k: bodies.append(r.request.body)
    )
    return bodies


def test_query_of_4500_records_in_three_batches(gateway: SalesforceGateway) -> None:
    company = _tag()
    created = gateway.create("Lead", _leads(company, 4500))
    assert len(created) == 4500 and all(r.success for r in created)
    assert gateway.calls_by_operation["create"] == 23  # ceil(4500 / 200)

    query = format_soql("SELECT Id, LastName FROM Lead WHERE Company = {}", company)
    first = gateway.query(query)
    assert first["totalSize"] == 4500 and len(first["records"]) == 2000 and not first["done"]

    before = gateway.calls_by_operation.get("query", 0)
    records = list(gateway.query_all_iter(query))
    assert gateway.calls_by_operation["query"] - before == 3  # 2,000 + 2,000 + 500
    assert len(records) == 4500
    assert {r["Id"] for r in records} == {r.id for r in created}


def test_create_chunks_201_into_200_plus_1(gateway: SalesforceGateway) -> None:
    bodies = _request_bodies(gateway)
    results = gateway.create("Lead", _leads(_tag(), 201))
    assert len(results) == 201 and all(r.success for r in results)
    assert all(ids.is_valid(r.id, "Lead") for r in results)
    assert gateway.calls_by_operation == {"create": 2}
    sizes = [body.count(b'"attributes"') for body in bodies if isinstance(body, bytes)]
    assert sizes == [200, 1]


def test_update_and_delete_with_per_record_outcomes(gateway: SalesforceGateway) -> None:
    company = _tag()
    created = [r.id for r in gateway.create("Lead", _leads(company, 3))]
    results = gateway.update(
        "Lead",
        [
            {"Id": created[0], "Company": company + "-x"},
            {"Id": created[1], "Nope__c": "x"},  # unknown field: this record only fails
            {"Id": created[2][:15], "Title": "CTO"},  # 15-char ids are accepted
        ],
    )
    assert [r.success for r in results] == [True, False, True]
    assert results[1].errors[0].status_code == "INVALID_FIELD"
    assert results[1].errors[0].fields == ("Nope__c",)
    fetched = {r["Id"]: r for r in gateway.fetch("Lead", created, ["Company", "Title"])}
    assert fetched[created[0]]["Company"] == company + "-x"
    assert fetched[created[2]]["Title"] == "CTO"

    deleted = gateway.delete([created[0], created[1]])
    assert [r.success for r in deleted] == [True, True]
    assert [r.id for r in deleted] == created[:2]
    again = gateway.delete([created[0]])
    assert not again[0].success and again[0].errors[0].status_code == "ENTITY_IS_DELETED"
    assert [r["Id"] for r in gateway.fetch("Lead", created, ["Id"])] == [created[2]]


def test_custom_fields_and_datetime_values_round_trip(gateway: SalesforceGateway) -> None:
    routed = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    (created,) = gateway.create(
        "Lead",
        [{"LastName": "Dt", "Company": _tag(), "Routed_At__c": routed, "Match_Score__c": 0.75}],
    )
    assert created.success, created.errors
    record = gateway.fetch("Lead", [created.id], ["Routed_At__c", "Match_Score__c"])[0]
    assert record["Routed_At__c"] == "2024-05-06T07:08:09.123+0000"
    assert record["Match_Score__c"] == 0.75
    gateway.validate_fields("Lead", ["Routed_At__c", "Matched_Account__r.Name"])


def test_writes_refuse_bad_input_before_calling(gateway: SalesforceGateway) -> None:
    with pytest.raises(InvalidId):
        gateway.update("Lead", [{"Id": "0015000000Gv7qJ", "Company": "x"}])  # Account id
    with pytest.raises(ValueError):
        gateway.create("Lead", [{"Id": "00Q000000000000", "LastName": "x"}])
    with pytest.raises(ValueError):
        gateway.create("Lead", [{"LastName = 'x'": 1}])
    with pytest.raises(InvalidId):
        gateway.delete(["00Q' OR Id != '"])
    assert gateway.calls_by_operation == {}


def _request_sizes(gateway: SalesforceGateway) -> list[int]:
    """Bytes of request line and headers of each request as it leaves (Host included)."""
    sizes: list[int] = []

    def record(response: Any, *args: Any, **kwargs: Any) -> None:
        sent = response.request
        host = urlsplit(sent.url).netloc
        lines = [f"{sent.method} {sent.path_url} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in sent.headers.items()]
        sizes.append(sum(len(line.encode()) + 2 for line in lines))

    gateway.connection.session.hooks["response"].append(record)
    return sizes


def test_fetch_chunks_ids_and_validates_them(sandbox: Any) -> None:
    gateway = make_gateway(sandbox)
    created = [r.id for r in gateway.create("Lead", _leads(_tag(), 450))]
    # Ids that do not exist are simply absent: pad to 5,000 distinct ids with missing ones.
    missing = [ids.to_18(f"00QZz{n:010d}") for n in range(5_000 - len(created))]
    short = [i[:15] for i in created]
    sizes = _request_sizes(gateway)
    records = gateway.fetch("Lead", [*short, created[0], *missing], ["Company", "Email"])
    # The 10,000-character guard admits (10,000 - 49) // 21 = 473 ids per query: 11 calls, not 25.
    assert gateway.calls_by_operation["fetch"] == 11
    assert sorted(r["Id"] for r in records) == sorted(created)  # 18-char, missing ones absent
    assert list(records[0]) == ["attributes", "Id", "Company", "Email"]
    # Salesforce refuses more than 16,384 bytes of URI + headers (414/431); keep a margin for a
    # long My Domain host and cookies. A full query measures about 13,200 bytes.
    assert len(sizes) == 11 and max(sizes) < 16_384 - 1_024, sizes
    with pytest.raises(InvalidId):
        gateway.fetch("Lead", [sandbox.integration_user_id], ["Id"])
    assert gateway.calls_by_operation["fetch"] == 11
    capped = make_gateway(sandbox, in_chunk_size=200)
    assert len(capped.fetch("Lead", created, ["Id"])) == 450
    assert capped.calls_by_operation["fetch"] == 3


def test_soql_values_are_escaped_end_to_end(gateway: SalesforceGateway) -> None:
    company = _tag()
    name = "O'Brien \\ 100%_x"
    decoy = "O'Brien \\ 100AAx"  # matches only if % and _ acted as wildcards
    gateway.create(
        "Lead", [{"LastName": name, "Company": company}, {"LastName": decoy, "Company": company}]
    )
    exact = gateway.query_all(format_soql("SELECT LastName FROM Lead WHERE LastName = {}", name))
    assert [r["LastName"] for r in exact] == [name]
    like = gateway.query_all(
        format_soql(
            "SELECT LastName FROM Lead WHERE Company = {c} AND LastName LIKE '%{q:like}%'",
            c=company,
            q="100%_",
        )
    )
    assert [r["LastName"] for r in like] == [name]
    injected = format_soql("SELECT Id FROM Lead WHERE LastName = {}", "x' OR LastName != '")
    assert gateway.query_all(injected) == []


def test_changed_since_pages_by_keyset_through_timestamp_ties(gateway: SalesforceGateway) -> None:
    company = _tag()
    created = [r.id for r in gateway.create("Lead", _leads(company, 120))]
    stamps = {
        r["Id"]: r["SystemModstamp"] for r in gateway.fetch("Lead", created, ["SystemModstamp"])
    }
    start = min(soql.parse_datetime(s) for s in stamps.values())
    assert len(set(stamps.values())) < len(stamps)  # one call: rows share a millisecond

    pages = list(gateway.changed_since("Lead", ["Company"], start, page_size=50))
    assert [len(p.records) for p in pages] == [50, 50, 20]
    assert [p.last for p in pages] == [False, False, True]
    seen = [r["Id"] for p in pages for r in p.records]
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    keys = [(soql.parse_datetime(r["SystemModstamp"]), r["Id"]) for p in pages for r in p.records]
    assert keys == sorted(keys)
    assert all(r["IsDeleted"] is False for p in pages for r in p.records)
    assert pages[-1].watermark.id == seen[-1]
    assert gateway.calls_by_operation["changed_since"] == 3

    # Resuming from a page's watermark continues exactly after it.
    resumed = list(
        gateway.changed_since("Lead", ["Company"], pages[0].watermark.ts, pages[0].watermark.id)
    )
    assert [r["Id"] for p in resumed for r in p.records] == seen[50:]

    # Deletes show up through queryAll (IsDeleted), and only with include_deleted.
    mark = pages[-1].watermark
    gateway.delete([created[0]])
    with_deleted = [
        r for p in gateway.changed_since("Lead", ["Company"], mark.ts, mark.id) for r in p.records
    ]
    assert [(r["Id"], r["IsDeleted"]) for r in with_deleted] == [(created[0], True)]
    without = list(
        gateway.changed_since("Lead", ["Company"], mark.ts, mark.id, include_deleted=False)
    )
    assert [r for p in without for r in p.records] == []
    assert without[0].watermark == mark  # nothing new: the watermark stays


def test_convert_lead_into_existing_account(gateway: SalesforceGateway) -> None:
    company = _tag()
    account = gateway.create("Account", [{"Name": company, "Industry": "Banking"}])[0].id
    leads = [r.id for r in gateway.create("Lead", _leads(company, 2, Industry="Retail"))]
    results = gateway.convert_leads(
        [
            LeadConvert(lead_id=leads[0], account_id=account, do_not_create_opportunity=True),
            LeadConvert(lead_id=leads[1], opportunity_name=f"{company} deal"),
        ]
    )
    into, fresh = results
    assert into.success and into.lead_id == leads[0] and into.account_id == account
    assert ids.is_valid(into.contact_id, "Contact") and into.opportunity_id is None
    assert fresh.success and fresh.account_id != account
    assert ids.is_valid(fresh.account_id, "Account") and ids.is_valid(
        fresh.opportunity_id, "Opportunity"
    )

    lead = gateway.fetch(
        "Lead", [leads[0]], ["IsConverted", "ConvertedAccountId", "ConvertedContactId", "Status"]
    )[0]
    assert lead["IsConverted"] is True
    assert lead["ConvertedAccountId"] == account and lead["ConvertedContactId"] == into.contact_id
    assert lead["Status"] == gateway.converted_status()
    existing = gateway.fetch("Account", [account], ["Name", "Industry"])[0]
    assert existing["Industry"] == "Banking"  # existing values are not overwritten
    contact = gateway.fetch("Contact", [into.contact_id], ["AccountId", "LastName"])[0]
    assert contact["AccountId"] == account and contact["LastName"] == "Lead 0"
    # one query for the converted status, one SOAP call for both leads
    assert gateway.calls_by_operation["convert_leads"] == 1


def test_convert_lead_reports_per_lead_failures(gateway: SalesforceGateway) -> None:
    lead = gateway.create("Lead", _leads(_tag(), 1))[0].id
    (result,) = gateway.convert_leads(
        [LeadConvert(lead_id=lead, converted_status="Working - Contacted")]
    )
    assert not result.success and result.errors
    assert result.errors[0].status_code  # Salesforce's statusCode, e.g. INVALID_STATUS


def test_convert_leads_in_batches(sandbox: Any) -> None:
    gateway = SalesforceGateway(make_gateway(sandbox).connection, convert_batch_size=100)
    assert gateway.convert_batch_size == 100
    leads = [r.id for r in gateway.create("Lead", _leads(_tag(), 150))]
    results = gateway.convert_leads(
        [LeadConvert(lead_id=i, do_not_create_opportunity=True) for i in leads]
    )
    assert [r.lead_id for r in results] == leads and all(r.success for r in results)
    assert gateway.calls_by_operation["convert_leads"] == 2  # 100 + 50


def test_describe_is_cached_and_validates_fields(gateway: SalesforceGateway) -> None:
    described = gateway.describe("Contact")
    assert described["name"] == "Contact" and described["keyPrefix"] == "003"
    names = {f["name"] for f in described["fields"]}
    assert {"Id", "Email", "AccountId", "SystemModstamp"} <= names
    gateway.describe("Contact")
    assert gateway.calls_by_operation == {"describe": 1}

    gateway.validate_fields("Contact", ["Email", "account.name", "Owner.IsActive"])
    with pytest.raises(UnknownFields) as unknown:
        gateway.validate_fields("Contact", ["Email", "Bogus__c", "Account.Bogus"])
    assert unknown.value.names == ("Bogus__c", "Account.Bogus")
    with pytest.raises(SalesforceError):
        gateway.describe("NoSuchObject__c")


def test_active_users_converted_status_and_limits(gateway: SalesforceGateway, sandbox: Any) -> None:
    users = gateway.active_users()
    assert sandbox.integration_user_id in {u["Id"] for u in users}
    assert all(u["IsActive"] is True and ids.is_valid(u["Id"], "User") for u in users)
    assert gateway.converted_status() == "Closed - Converted"
    assert gateway.converted_statuses() == ["Closed - Converted"]
    limits = gateway.limits()
    assert set(limits["DailyApiRequests"]) == {"Max", "Remaining"}
    assert gateway.calls_by_operation == {"active_users": 1, "converted_status": 1, "limits": 1}
    assert gateway.org_id == sandbox.org_id
    assert gateway.integration_user_id == sandbox.integration_user_id


def test_bad_soql_raises_typed_error(gateway: SalesforceGateway) -> None:
    with pytest.raises(SalesforceError) as raised:
        gateway.query("SELECT Id FROM Lead WHERE")
    assert raised.value.error_code == "MALFORMED_QUERY" and raised.value.status == 400
    assert gateway.calls_by_operation == {"query": 1}  # not retried


def test_our_call_counts_match_the_orgs(gateway: SalesforceGateway, sandbox: Any) -> None:
    before = sandbox.api_usage()["used"]
    company = _tag()
    created = [r.id for r in gateway.create("Lead", _leads(company, 3))]
    gateway.fetch("Lead", created, ["Company"])
    gateway.update("Lead", [{"Id": created[0], "Title": "VP"}])
    gateway.describe("Lead")
    gateway.convert_leads([LeadConvert(lead_id=created[1])])
    stamp = gateway.fetch("Lead", [created[0]], ["SystemModstamp"])[0]["SystemModstamp"]
    list(gateway.changed_since("Lead", ["Company"], stamp, created[0], page_size=200))
    gateway.delete([created[2]])
    used = sandbox.api_usage()["used"] - before
    assert gateway.usage.total_calls == used
    assert gateway.calls_by_operation == {
        "create": 1,
        "fetch": 2,
        "update": 1,
        "describe": 1,
        "converted_status": 1,
        "convert_leads": 1,
        "changed_since": 1,
        "delete": 1,
    }
    snapshot = gateway.usage.snapshot()
    assert snapshot["api_used"] == sandbox.api_usage()["used"]
    assert snapshot["api_limit"] == sandbox.api_usage()["limit"]
    assert snapshot["auth_requests"] == 1
