"""sObject Collections: POST/PATCH/DELETE, 200-record cap, allOrNone, per-record statusCode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.ids import make_id

MISSING_LEAD = make_id("00Q", 987654321)


def _leads(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"attributes": {"type": "Lead"}, "LastName": f"Col{i}", "Company": "Coll", **extra}
            for i in range(n)]  # fmt: skip


def test_create_update_delete_roundtrip(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": _leads(3)})  # fmt: skip
    assert [set(r) for r in created] == [{"id", "success", "errors"}] * 3
    ids = [r["id"] for r in created]
    assert all(r["success"] and r["errors"] == [] for r in created)
    updates = [{"attributes": {"type": "Lead"}, "Id": i, "Title": "Boss"} for i in ids]
    updated = sf.restful("composite/sobjects", method="PATCH",
                         json={"allOrNone": False, "records": updates})  # fmt: skip
    assert [r["id"] for r in updated] == ids and all(r["success"] for r in updated)
    assert sf.Lead.get(ids[0])["Title"] == "Boss"
    deleted = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": ",".join(ids), "allOrNone": "false"})  # fmt: skip
    assert [r["id"] for r in deleted] == ids and all(r["success"] for r in deleted)
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["success"] is False
    deleted_error = {
        "statusCode": "ENTITY_IS_DELETED",
        "message": "entity is deleted",
        "fields": [],
    }
    assert again[0]["errors"] == [deleted_error]


def test_partial_success_reports_statuscode(sf: Salesforce) -> None:
    records = _leads(2)
    records.insert(1, {"attributes": {"type": "Lead"}, "Company": "No last name"})
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": records})  # fmt: skip
    assert [r["success"] for r in results] == [True, False, True]
    error = results[1]["errors"][0]
    assert set(error) == {"statusCode", "message", "fields"}
    assert error["statusCode"] == "REQUIRED_FIELD_MISSING" and error["fields"] == ["LastName"]


def test_all_or_none_rolls_back(sf: Salesforce) -> None:
    records = _leads(3, Title="AllOrNone")
    records[2]["Email"] = "broken"
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": True, "records": records})  # fmt: skip
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[0]["id"] is None
    assert results[2]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    count = sf.query("SELECT COUNT() FROM Lead WHERE Title = 'AllOrNone'")["totalSize"]
    assert count == 0


def test_update_all_or_none_and_bad_ids(sf: Salesforce) -> None:
    ids = [r["id"] for r in sf.restful("composite/sobjects", method="POST",
                                       json={"records": _leads(2)})]  # fmt: skip
    records = [
        {"attributes": {"type": "Lead"}, "Id": ids[0], "Title": "Changed"},
        {"attributes": {"type": "Lead"}, "Id": MISSING_LEAD, "Title": "Changed"},
    ]
    results = sf.restful("composite/sobjects", method="PATCH",
                         json={"allOrNone": True, "records": records})  # fmt: skip
    assert results[0]["id"] == ids[0]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.Lead.get(ids[0])["Title"] is None


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_201_records_refused(api: Callable[..., Any], method: str) -> None:
    records = _leads(201)
    if method == "PATCH":
        records = [{**r, "Id": "00Q8d0000000001EAA"} for r in records]
    response = api(method, "composite/sobjects", json={"allOrNone": False, "records": records})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    ids = ",".join(["00Q8d0000000001EAA"] * 201)
    assert api("DELETE", "composite/sobjects", params={"ids": ids}).status_code == 400


def test_200_records_accepted(sf: Salesforce) -> None:
    results = sf.restful("composite/sobjects", method="POST", json={"records": _leads(200)})
    assert len(results) == 200 and all(r["success"] for r in results)


def test_retrieve_collection(sf: Salesforce) -> None:
    ids = [r["id"] for r in sf.restful("composite/sobjects", method="POST",
                                       json={"records": _leads(2)})]  # fmt: skip
    got = sf.restful(
        "composite/sobjects/Lead", params={"ids": ",".join(ids), "fields": "Id,LastName"}
    )
    assert [r["Id"] for r in got] == ids


def test_missing_type_is_per_record(sf: Salesforce) -> None:
    results = sf.restful("composite/sobjects", method="POST",
                         json={"records": [{"LastName": "x", "Company": "y"}]})  # fmt: skip
    assert results[0]["success"] is False
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="POST", json={"nothing": []})
