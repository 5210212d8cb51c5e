"""Ids: 15/18-character forms, the checksum suffix, key prefixes (no I/O)."""

from __future__ import annotations

import pytest

from bridge.salesforce import ids
from bridge.salesforce.errors import InvalidId

# Published examples of 15 -> 18 conversion.
VECTORS = [
    ("0015000000Gv7qJ", "0015000000Gv7qJAAR"),
    ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
    ("00Q000000000000", "00Q000000000000EAA"),
    ("005aaaaaaaaaaaa", "005aaaaaaaaaaaaAAA"),
    ("003ZZZZZZZZZZZZ", "003ZZZZZZZZZZZZY55"),
]


@pytest.mark.parametrize(("id15", "id18"), VECTORS)
def test_to_18_adds_the_checksum(id15: str, id18: str) -> None:
    assert ids.to_18(id15) == id18
    assert ids.to_18(id18) == id18  # idempotent


def test_checksum_encodes_upper_case_positions() -> None:
    # Each 5-char block maps its upper-case positions (bit i = char i) to A-Z0-5.
    assert ids.checksum("A00000B0000000C") == "BCQ"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "001",
        "0015000000Gv7qJA",  # 16
        "0015000000Gv7qJAA",  # 17
        "0015000000Gv7qJAAX",  # wrong suffix
        "0015000000gv7qJAAR",  # case changed: suffix no longer matches
        "0015000000Gv7q'AAR",  # quote
        "001500000 Gv7qJ",  # space
        "0015000000Gv7qJ' OR Id != '",
    ],
)
def test_invalid_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidId):
        ids.to_18(bad)
    assert not ids.is_valid(bad)


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidId):
        ids.to_18(1234)  # type: ignore[arg-type]
    assert not ids.is_valid(None)


@pytest.mark.parametrize(
    ("sobject", "record_id"),
    [
        ("Account", "0015000000Gv7qJ"),
        ("Contact", "003ZZZZZZZZZZZZ"),
        ("Lead", "00Q000000000000"),
        ("Opportunity", "006000000000001"),
        ("User", "005aaaaaaaaaaaa"),
    ],
)
def test_key_prefix_matches_object(sobject: str, record_id: str) -> None:
    assert ids.normalize(record_id, sobject) == ids.to_18(record_id)
    others = [name for name in ids.KEY_PREFIXES if name != sobject]
    for other in others:
        with pytest.raises(InvalidId, match="expected prefix"):
            ids.normalize(record_id, other)


def test_unknown_objects_get_syntax_checks_only() -> None:
    assert ids.key_prefix("Invoice__c") is None
    assert ids.normalize("a0B000000000001", "Invoice__c") == ids.to_18("a0B000000000001")


def test_normalize_all_dedupes_across_forms_and_keeps_order() -> None:
    out = ids.normalize_all(["00Q000000000000", "0015000000Gv7qJAAR", "00Q000000000000EAA"])
    assert out == ["00Q000000000000EAA", "0015000000Gv7qJAAR"]
    assert ids.same_record("0015000000Gv7qJ", "0015000000Gv7qJAAR")
