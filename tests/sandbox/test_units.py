"""Unit tests without a server: ids, SOQL grammar and compilation, value coercion, stamps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from simple_salesforce import format_soql

from sandbox.errors import SalesforceError
from sandbox.fields import to_stored
from sandbox.ids import checksum, make_id, normalize_id
from sandbox.schema import load_schema
from sandbox.soql import parse_soql
from sandbox.soql.ast import BoolOp, Comparison, FieldRef, Literal, Not
from sandbox.soql.compiler import compile_query
from sandbox.soql.parser import unescape
from sandbox.store import Database
from sandbox.timefmt import normalize_datetime


# --- ids ---------------------------------------------------------------------------------
def test_checksum_matches_known_salesforce_id() -> None:
    # A documented example pair: 001A0000006Vm9r -> 001A0000006Vm9rIAC
    assert checksum("001A0000006Vm9r") == "IAC"
    assert normalize_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"


def test_make_id_prefix_length_and_roundtrip() -> None:
    record_id = make_id("00Q", 123456)
    assert len(record_id) == 18 and record_id.startswith("00Q")
    assert normalize_id(record_id[:15]) == record_id
    assert normalize_id(record_id.lower()) == record_id  # suffix restores the case
    assert normalize_id("not-an-id") is None
    assert normalize_id("00Q123") is None


# --- SOQL grammar ------------------------------------------------------------------------
def test_parse_full_query() -> None:
    q = parse_soql(
        "select Id, Owner.IsActive, Account.Owner.Name FROM Contact "
        "WHERE (Email = 'a@b.c' OR Email LIKE '%@x.com') AND NOT IsDeleted = false "
        "AND CreatedDate >= 2024-01-01T00:00:00.000+0000 AND Id IN ('003000000000001') "
        "ORDER BY LastName DESC NULLS LAST, Id ASC LIMIT 10 OFFSET 5"
    )
    assert q.sobject == "Contact"
    assert q.fields[2] == FieldRef(("Account", "Owner", "Name"))
    assert isinstance(q.where, BoolOp) and q.where.op == "AND"
    assert isinstance(q.where.items[0], BoolOp) and q.where.items[0].op == "OR"
    assert isinstance(q.where.items[1], Not)
    assert q.order_by[0].descending and q.order_by[0].nulls_last
    assert not q.order_by[1].descending
    assert (q.limit, q.offset) == (10, 5)


def test_parse_count_and_literals() -> None:
    q = parse_soql(
        "SELECT COUNT() FROM Lead WHERE Score__c > -1.5 AND IsConverted = TRUE "
        "AND ConvertedDate = 2024-02-29 AND Email != NULL AND Status NOT IN ('a', 'b') "
        "AND CreatedDate = LAST_N_DAYS:7 AND LastModifiedDate > 2024-01-01T00:00:00Z "
        "AND SystemModstamp < 2024-01-01T10:00:00+01:00"
    )
    assert q.count and q.fields == ()
    assert isinstance(q.where, BoolOp)
    values = [c.value for c in q.where.items if isinstance(c, Comparison)]
    assert values[0] == Literal("number", -1.5)
    assert values[1] == Literal("boolean", True)
    assert values[2] == Literal("date", "2024-02-29")
    assert values[3] == Literal("null", None)
    assert values[4] == (Literal("string", "a"), Literal("string", "b"))
    assert values[5] == Literal("date_literal", "LAST_N_DAYS:7")
    assert values[6] == Literal("datetime", "2024-01-01T00:00:00Z")


@pytest.mark.parametrize(
    "value",
    ["O'Brien", 'say "hi"', "back\\slash", "line\nbreak\ttab\r", "mixed \\' quote", "100%_x"],
)
def test_string_escapes_roundtrip_format_soql(value: str) -> None:
    soql = format_soql("SELECT Id FROM Lead WHERE LastName = {}", value)
    q = parse_soql(soql)
    assert isinstance(q.where, Comparison)
    assert q.where.value == Literal("string", value)


def test_like_escapes_become_sqlite_pattern() -> None:
    soql = format_soql("SELECT Id FROM Lead WHERE Email LIKE '{:like}%'", "a_b%c\\d")
    q = parse_soql(soql)
    assert isinstance(q.where, Comparison)
    # literal _ % and \ are escaped with "\", the trailing % stays a wildcard
    assert q.where.value == Literal("like", "a\\_b\\%c\\\\d%")
    assert unescape("'x\\%'", like=False) == "x%"


def test_datetime_literal_from_format_soql() -> None:
    from datetime import UTC, datetime

    soql = format_soql(
        "SELECT Id FROM Lead WHERE SystemModstamp > {}", datetime(2024, 5, 1, tzinfo=UTC)
    )
    q = parse_soql(soql)
    assert isinstance(q.where, Comparison) and q.where.value.kind == "datetime"  # type: ignore[union-attr]
    assert normalize_datetime("2024-05-01T02:00:00+02:00") == "2024-05-01T00:00:00.000+0000"


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FRM Lead",
        "SELECT FROM Lead",
        "SELECT Id FROM Lead WHERE",
        "SELECT Id FROM Lead WHERE a = 1 AND b = 2 OR c = 3",  # AND/OR mixed without parens
        "SELECT Id FROM Lead WHERE Name = 'unterminated",
        "SELECT Id FROM Lead LIMIT x",
        "SELECT Id FROM Lead ORDER BY",
        "SELECT Id, FROM Lead",
        "SELECT Id FROM Lead WHERE Name = 'bad \\q escape'",
        "DELETE FROM Lead",
    ],
)
def test_malformed_queries(soql: str) -> None:
    with pytest.raises(SalesforceError) as caught:
        parse_soql(soql)
    assert caught.value.error_code == "MALFORMED_QUERY"


# --- compilation -------------------------------------------------------------------------
SCHEMA = load_schema()


def _compile(soql: str, include_deleted: bool = False) -> tuple[str, list[object]]:
    compiled = compile_query(SCHEMA, parse_soql(soql), soql, include_deleted=include_deleted)
    return compiled.where_sql() + compiled.order_sql(), compiled.params


def test_compile_joins_and_deleted_filter() -> None:
    soql = "SELECT Id, Owner.Name, Account.Owner.IsActive FROM Contact"
    compiled = compile_query(SCHEMA, parse_soql(soql), soql)
    assert len(compiled.joins) == 3  # Owner, Account, Account.Owner
    assert 't0."IsDeleted" = 0' in compiled.where
    assert compile_query(SCHEMA, parse_soql(soql), soql, include_deleted=True).where == []


def test_compile_null_semantics_and_ids() -> None:
    sql, params = _compile(
        "SELECT Id FROM Lead WHERE Email != 'x@y.z' AND OwnerId = '005000000000001'"
    )
    assert "IS NULL OR" in sql
    assert params == ["x@y.z", "005000000000001AAA"]
    sql, params = _compile("SELECT Id FROM Lead WHERE Email IN ('a@b.c', null)")
    assert "IS NULL" in sql and params == ["a@b.c"]


def test_compile_datetime_normalised_for_comparison() -> None:
    _, params = _compile("SELECT Id FROM Lead WHERE SystemModstamp > 2024-01-01T01:00:00+01:00")
    assert params == ["2024-01-01T00:00:00.000+0000"]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Nope__c = 1", "INVALID_FIELD"),
        ("SELECT Bogus.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Nothing", "INVALID_TYPE"),
        ("SELECT Id FROM Lead WHERE IsConverted = 'true'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE Company = 5", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
    ],
)
def test_compile_errors(soql: str, code: str) -> None:
    with pytest.raises(SalesforceError) as caught:
        compile_query(SCHEMA, parse_soql(soql), soql)
    assert caught.value.error_code == code


# --- values ------------------------------------------------------------------------------
def test_value_coercion() -> None:
    lead = SCHEMA.objects["Lead"]
    assert to_stored(lead.fields["IsConverted"], True) == 1
    assert to_stored(lead.fields["NumberOfEmployees"], "12") == 12
    assert (
        to_stored(lead.fields["Routed_At__c"], "2024-01-01T00:00:00Z")
        == "2024-01-01T00:00:00.000+0000"
    )
    for field, bad in (("Email", "nope"), ("NumberOfEmployees", "x"), ("OwnerId", "bad")):
        with pytest.raises(SalesforceError):
            to_stored(lead.fields[field], bad)


def test_modstamp_reads_the_clock_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(tmp_path / "sandbox.sqlite3", load_schema())
    db.set_meta("last_modstamp", "2024-05-20T20:49:30.000+0000")
    # Each reading is half a millisecond later; the first one is just before a second turns.
    start = datetime(2024, 5, 20, 20, 49, 31, 999_600, tzinfo=UTC)
    readings: Iterator[datetime] = (start + timedelta(microseconds=500 * i) for i in range(10))
    monkeypatch.setattr("sandbox.store.now", lambda: next(readings))
    assert db.next_modstamp() == "2024-05-20T20:49:31.999+0000"
    db.close()
