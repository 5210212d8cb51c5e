"""SOQL building: escaping through format_soql, identifiers, id chunks, keyset (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from simple_salesforce import format_soql

from bridge.salesforce import soql
from bridge.salesforce.errors import InvalidId

LEAD = "00Q000000000000EAA"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("O'Brien", r"'O\'Brien'"),
        ('say "hi"', r"'say \"hi\"'"),
        ("back\\slash", r"'back\\slash'"),
        ("trailing\\", r"'trailing\\'"),
        ("line\nbreak\ttab", r"'line\nbreak\ttab'"),
        # Classic injection attempts stay inside one string literal.
        ("x' OR Name != '", r"'x\' OR Name != \''"),
        ("\\' OR Id != null OR Name = '", r"'\\\' OR Id != null OR Name = \''"),
        ("a'; DELETE FROM Lead; --", r"'a\'; DELETE FROM Lead; --'"),
    ],
)
def test_values_are_escaped(value: str, quoted: str) -> None:
    assert format_soql("WHERE Name = {}", value) == f"WHERE Name = {quoted}"


def _literal_body(literal: str) -> str:
    """Unescape a SOQL string literal; fails if an unescaped quote ends it early."""
    assert literal[0] == "'" and literal[-1] == "'"
    out, i, body = [], 0, literal[1:-1]
    while i < len(body):
        if body[i] == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert body[i] != "'", f"unescaped quote in {literal!r}"
        out.append(body[i])
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value", ["x' OR Name != '", "\\'", "\\\\'", "'''", "a\\"])
def test_escaped_values_cannot_break_out(value: str) -> None:
    assert _literal_body(format_soql("{}", value)) == value


def test_like_escapes_wildcards_as_well() -> None:
    assert soql.escape_like("50%_off") == r"50\%\_off"
    assert soql.escape_like("O'Brien\\") == r"O\'Brien\\"
    query = format_soql("SELECT Id FROM Lead WHERE Company LIKE '%{q:like}%'", q="100%_x'")
    assert query == r"SELECT Id FROM Lead WHERE Company LIKE '%100\%\_x\'%'"


def test_lists_booleans_null_and_numbers() -> None:
    query = format_soql(
        "WHERE Id IN {ids} AND IsActive = {a} AND X = {n} AND Y = {k}",
        ids=["a'b", "c"],
        a=True,
        n=None,
        k=3,
    )
    assert query == r"WHERE Id IN ('a\'b','c') AND IsActive = true AND X = null AND Y = 3"


@pytest.mark.parametrize(
    "name",
    ["Name, (SELECT Id FROM Contacts)", "Name FROM User --", "toLabel(Status)", "", "1Name", "a b"],
)
def test_identifiers_are_checked(name: str) -> None:
    with pytest.raises(ValueError):
        soql.select("Lead", [name])
    with pytest.raises(ValueError):
        soql.select(name or "Lead Where", ["Id"])


def test_select_puts_id_first_and_dedupes() -> None:
    query = soql.select("Lead", ["Email", "id", "Account__r.Name", "Owner.IsActive", "EMAIL"])
    assert query == "SELECT Id, Email, Account__r.Name, Owner.IsActive FROM Lead"


def test_by_ids_validates_dedupes_and_chunks() -> None:
    record_ids = [f"00Q{n:012d}" for n in range(1_000)]
    queries = soql.by_ids("Lead", ["Email"], record_ids + record_ids[:5])
    # As many ids as the 10,000-character guard admits: (10,000 - 40) // 21 = 474 per query.
    assert [q.count("'00Q") for q in queries] == [474, 474, 52]
    assert all(len(q) <= soql.DEFAULT_MAX_SOQL_LENGTH for q in queries)
    assert len(queries[0]) > soql.DEFAULT_MAX_SOQL_LENGTH - 21  # full: one more id would not fit
    assert queries[0].startswith("SELECT Id, Email FROM Lead WHERE Id IN ('00Q000000000000EAA',")
    # No chunk cap of its own: with a longer guard the chunks grow with it.
    roomy = soql.by_ids("Lead", ["Email"], record_ids, max_length=30_000)
    assert [q.count("'00Q") for q in roomy] == [1_000]
    capped = soql.by_ids("Lead", ["Email"], record_ids[:450], chunk_size=200)
    assert [q.count("'00Q") for q in capped] == [200, 200, 50]
    with pytest.raises(InvalidId):
        soql.by_ids("Lead", ["Email"], ["0015000000Gv7qJ"])  # an Account id
    with pytest.raises(InvalidId):
        soql.by_ids("Lead", ["Email"], ["00Q000000000000' OR Id != '"])


def test_by_ids_keeps_queries_short() -> None:
    record_ids = [f"00Q{n:012d}" for n in range(200)]
    queries = soql.by_ids("Lead", ["Email"], record_ids, chunk_size=200, max_length=1_000)
    assert len(queries) > 1
    assert all(len(q) <= 1_000 for q in queries)
    assert sum(q.count("'00Q") for q in queries) == 200


def test_datetime_literal_keeps_milliseconds_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    value = datetime(2013, 5, 20, 21, 49, 32, 123456, tzinfo=cet)
    assert soql.datetime_literal(value) == "2013-05-20T20:49:32.123Z"
    with pytest.raises(ValueError):
        soql.datetime_literal(datetime(2013, 5, 20))  # naive


@pytest.mark.parametrize(
    "text",
    ["2013-05-20T20:49:32.123+0000", "2013-05-20T20:49:32.123Z", "2013-05-20T22:49:32.123+02:00"],
)
def test_parse_salesforce_datetimes(text: str) -> None:
    assert soql.parse_datetime(text) == datetime(2013, 5, 20, 20, 49, 32, 123000, tzinfo=UTC)


def test_keyset_change_query() -> None:
    ts = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    query = soql.changes_since("Lead", ["Email", "Id"], ts, "00Q000000000000", limit=2000)
    assert query == (
        "SELECT Id, SystemModstamp, Email FROM Lead"
        " WHERE (SystemModstamp > 2024-01-02T03:04:05.678Z"
        " OR (SystemModstamp = 2024-01-02T03:04:05.678Z AND Id > '00Q000000000000EAA'))"
        " ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000"
    )


def test_keyset_start_and_full_sync() -> None:
    ts = "2024-01-02T03:04:05.000+0000"
    assert " WHERE SystemModstamp >= 2024-01-02T03:04:05.000Z ORDER BY" in soql.changes_since(
        "Lead", ["Email"], ts
    )
    assert "WHERE" not in soql.changes_since("Lead", ["Email"], None, limit=None)
    with pytest.raises(ValueError):
        soql.changes_since("Lead", ["Email"], None, LEAD)
    with pytest.raises(InvalidId):
        soql.changes_since("Lead", ["Email"], ts, "001' OR Id != '")
    with pytest.raises(ValueError):
        soql.changes_since("Lead", ["Email"], ts, limit=0)


def test_keyset_query_bounded_by_until() -> None:
    """`until` closes a time window: ANDed after the parenthesized keyset condition (so the
    OR cannot swallow it), rendered with milliseconds in UTC like the watermark."""
    ts = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    until = datetime(2024, 1, 2, 5, 4, 5, 9000, tzinfo=timezone(timedelta(hours=2)))
    query = soql.changes_since("Lead", ["Email"], ts, "00Q000000000000", limit=50, until=until)
    assert query == (
        "SELECT Id, SystemModstamp, Email FROM Lead"
        " WHERE (SystemModstamp > 2024-01-02T03:04:05.678Z"
        " OR (SystemModstamp = 2024-01-02T03:04:05.678Z AND Id > '00Q000000000000EAA'))"
        " AND SystemModstamp < 2024-01-02T03:04:05.009Z"
        " ORDER BY SystemModstamp ASC, Id ASC LIMIT 50"
    )
    window = soql.changes_since("Lead", ["Email"], ts, cursor_field="LastModifiedDate", until=ts)
    assert " WHERE LastModifiedDate >= 2024-01-02T03:04:05.678Z" in window
    assert " AND LastModifiedDate < 2024-01-02T03:04:05.678Z ORDER BY" in window
    assert " WHERE SystemModstamp < 2024-01-02T03:04:05.678Z ORDER BY" in soql.changes_since(
        "Lead", ["Email"], None, until=ts
    )
    with pytest.raises(ValueError):
        soql.changes_since("Lead", ["Email"], ts, until=datetime(2024, 1, 2))  # naive
