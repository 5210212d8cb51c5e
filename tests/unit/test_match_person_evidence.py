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


def test_a_copy_with_both_names_replaced_shares_id_birth_date_and_address() -> None:
    # FEBRL's generator replaces whole values: the id, birth date and address still agree.
    copy = dict(FEBRL, given_name="Edward", surname="Selmann", phone_number="")
    index = crowd([person("R0", **copy)])
    found = match_in_index(person("L0", **FEBRL), index, default_rules("contact"))
    assert [m.id for m in found] == ["R0"]
    # ... and only the id: two different people can share a birth date, not an id.
    stranger = dict(copy, soc_sec_id="9990001", street_number="7", address_1="Oak Lane",
                    postcode="99999", suburb="Elsewhere", state="TX")  # fmt: skip
    index = crowd([person("R1", **stranger)])
    assert match_in_index(person("L0", **FEBRL), index, default_rules("contact")) == []


def test_name_levels_single_typos_spaces_and_nicknames_read_crosswise() -> None:
    def sims(a: dict[str, str], b: dict[str, str]) -> tuple[float, float, bool]:
        comp = compare(person("a", **a), [person("b", **b)])
        assert comp.swapped is not None
        return comp.sims["first_name"][0], comp.sims["last_name"][0], bool(comp.swapped[0])

    # One edit (here a substitution and an inserted space) is a near agreement (>= 0.92).
    assert sims({"first_name": "Maria", "last_name": "Taylor"},
                {"first_name": "Maria", "last_name": "Tdylor"})[1] >= 0.92  # fmt: skip
    assert sims({"first_name": "Lachlan", "last_name": "Salt"},
                {"first_name": "Lachlan", "last_name": "Sal t"})[1] >= 0.92  # fmt: skip
    # Swapped, and one of the two names replaced: still read crosswise.
    first, last, swapped = sims({"first_name": "Ayres", "last_name": "Melanie"},
                                {"first_name": "Melanie", "last_name": "Beaty"})  # fmt: skip
    assert swapped and first < 0.7 and last == 1.0
    # A nickname counts crosswise too ('Sharp Bob' is Robert Sharp).
    assert sims({"first_name": "Robert", "last_name": "Sharp"},
                {"first_name": "Sharp", "last_name": "Bob"})[:3] == (1.0, 1.0, True)  # fmt: skip
    # A misspelt nickname ('Platty' for Patty) is close to Patricia when the surnames agree...
    platty = sims({"first_name": "Patricia", "last_name": "Howard"},
                  {"first_name": "Platty", "last_name": "Howard"})[0]  # fmt: skip
    assert 0.85 < platty < 0.92
    # ... while a short different name one letter away is not a typo ('Jon' / 'Jan').
    assert sims({"first_name": "Jon", "last_name": "Howard"},
                {"first_name": "Jan", "last_name": "Howard"})[0] < 0.85  # fmt: skip


def test_a_placeholder_birth_date_shared_by_many_records_weighs_little() -> None:
    index = ObjectIndex()
    for n in range(300):
        index.put(person(f"d{n}", first_name=FIRSTS[n % 10], last_name=f"Zz{n:03d}qx",
                         birthdate=f"19{20 + n % 70}-0{1 + n % 9}-{10 + n % 18}"))  # fmt: skip
    for n in range(60):
        index.put(person(f"p{n}", first_name=FIRSTS[n % 10], last_name=f"Qq{n:03d}x",
                         birthdate="1900-01-01"))  # fmt: skip
    unique = person("u", first_name="Ann", last_name="Yy001z", birthdate="1971-05-06")
    placeholder = person("v", first_name="Ann", last_name="Yy002z", birthdate="1900-01-01")
    index.put(unique)
    index.put(placeholder)
    c_unique = compare(person("x", birthdate="1971-05-06"), [unique], index.freq)
    c_placeholder = compare(person("y", birthdate="1900-01-01"), [placeholder], index.freq)
    assert c_placeholder.tf["birthdate"][0] < -2 <= c_unique.tf["birthdate"][0]
    assert confidence(c_placeholder)[0] < confidence(c_unique)[0]


def test_address_and_company_blocking_keys() -> None:
    a = person("a", given_name="Steven", surname="Baker", street_number="12",
               address_1="Main Street", postcode="2000", company="White Systems Ltd")  # fmt: skip
    b = person("b", given_name="Baker", surname="Stehpen", street_number="12",
               address_1="Main Str", postcode="2000", company="White Systems")  # fmt: skip
    shared = blocking_keys(a) & blocking_keys(b)
    assert {"a:12/mains", "a:12/2000", "co:whitesys/ba", "co:whitesys/st"} <= shared
