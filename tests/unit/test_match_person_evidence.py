"""Person evidence beyond names: term-frequency adjustments, dates of birth, national ids,
addresses (FEBRL-style columns), phonetic blocking, and the household trap."""

from __future__ import annotations

from typing import Any

from bridge.matching import normalize as nz
from bridge.matching.engine import match_in_index
from bridge.matching.evidence import confidence
from bridge.matching.index import ObjectIndex, blocking_keys
from bridge.matching.profiles import build_profile
from bridge.matching.rules import default_rules
from bridge.matching.scoring import compare

FIRSTS = ["James", "Mary", "John", "Linda", "David", "Susan", "Paul", "Karen", "Mark", "Nancy"]


def person(rid: str, **fields: Any) -> Any:
    return build_profile(fields, "contact", record_id=rid)


def crowd(extra: list[Any]) -> ObjectIndex:
    """400 people, 150 of them Smiths, plus `extra`."""
    index = ObjectIndex()
    for n in range(400):
        last = "Smith" if n < 150 else f"Zz{n:03d}qx"
        index.put(person(f"c{n}", first_name=FIRSTS[n % 10], last_name=last))
    for p in extra:
        index.put(p)
    return index


def test_normalised_dates_and_ids() -> None:
    assert nz.date_key("1956-03-12") == nz.date_key("19560312") == nz.date_key("3/12/1956")
    assert nz.date_key("25/12/1956") == "19561225"  # cannot be a month: day first
    assert nz.date_key("") == "" and nz.id_key("123-45-6789") == "123456789"
    assert nz.phonetic_key("smyth") == nz.phonetic_key("smith")


def test_rare_surname_agreement_weighs_more_than_smith() -> None:
    rare = person("r1", first_name="Mary", last_name="Okonkwo-Vance")
    smith = person("r2", first_name="Mary", last_name="Smith")
    index = crowd([rare, smith])
    cand_rare = person("x1", first_name="Mary", last_name="Okonkwo-Vance")
    cand_smith = person("x2", first_name="Mary", last_name="Smith")
    c_rare = float(confidence(compare(cand_rare, [rare], index.freq))[0])
    c_smith = float(confidence(compare(cand_smith, [smith], index.freq))[0])
    plain = float(confidence(compare(cand_rare, [rare]))[0])  # no frequencies known
    assert c_rare > plain > c_smith
    assert c_rare >= 0.9 > c_smith  # a rare name alone passes the default threshold
    rules = default_rules("contact")
    assert [m.id for m in match_in_index(cand_rare, index, rules)] == ["r1"]
    assert "r2" not in [m.id for m in match_in_index(cand_smith, index, rules)]


FEBRL = {
    "given_name": "Melanie", "surname": "Gallagher", "street_number": "138",
    "address_1": "Wilson Trace", "address_2": "", "suburb": "Kennedyfurt", "postcode": "28020",
    "state": "CT", "date_of_birth": "19450915", "soc_sec_id": "2058756",
    "phone_number": "4623208117",
}  # fmt: skip


def test_febrl_columns_and_a_copy_with_errors_in_every_identifier() -> None:
    p = person("L0", **FEBRL)
    assert (p.first, p.last, p.street, p.city) == (
        "melanie", "gallagher", "138 wilson trace", "kennedyfurt",
    )  # fmt: skip
    assert (p.postal_code, p.birthdate, p.national_id) == ("28020", "19450915", "2058756")
    copy = dict(FEBRL, given_name="Melanei", surname="Galager", date_of_birth="19451509",
                soc_sec_id="2058765", phone_number="", address_1="Wilson Trc")  # fmt: skip
    index = crowd([person("R0", **copy)])
    found = match_in_index(p, index, default_rules("contact"))
    assert [m.id for m in found] == ["R0"] and found[0].confidence > 0.99


def test_a_family_member_at_the_same_address_is_not_the_person() -> None:
    sister = dict(FEBRL, given_name="Rebecca", date_of_birth="19480302", soc_sec_id="")
    index = crowd([person("R1", **sister)])
    assert match_in_index(person("L0", **FEBRL), index, default_rules("contact")) == []
    # ... even when neither side has a date of birth or an id to tell them apart
    bare = {k: v for k, v in FEBRL.items() if k not in ("date_of_birth", "soc_sec_id")}
    index = crowd([person("R1", **dict(bare, given_name="Rebecca"))])
    assert match_in_index(person("L0", **bare), index, default_rules("contact")) == []


def test_sound_alike_and_identifier_blocking_keys() -> None:
    smyth = person("a", first_name="John", last_name="Smyth", birthdate="1970-01-02",
                   ssn="123-45-6789")  # fmt: skip
    smith = person("b", first_name="John", last_name="Smith")
    assert blocking_keys(smyth) & blocking_keys(smith)  # phonetic surname + initial
    assert {"b:19700102", "i:123456789"} <= blocking_keys(smyth)
