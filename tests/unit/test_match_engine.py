"""Each rule kind and mode on hand-built records, including the traps; tie-breakers."""

from __future__ import annotations

from typing import Any

from bridge.matching.engine import match_in_index
from bridge.matching.index import MatchIndex
from bridge.matching.profiles import build_profile
from bridge.matching.rules import default_rules, parse_rules

ACCOUNTS = [
    {"Id": "001A", "Name": "Acme Holdings Inc.", "Website": "https://www.acmeholdings.com",
     "Phone": "(415) 555-0100", "BillingPostalCode": "94105", "CreatedDate": "2020-01-01"},
    {"Id": "001B", "Name": "Globex Corporation", "Website": "globex.com",
     "Phone": "+1 212 555 0199", "CreatedDate": "2019-05-01"},
    {"Id": "001C", "Name": "International Business Machines Corp", "Website": "ibm.com"},
    {"Id": "001D", "Name": "Initech LLC", "Website": "initech.io", "CreatedDate": "2021-03-03"},
    {"Id": "001E", "Name": "Initech", "Website": "initech.io", "CreatedDate": "2018-03-03"},
]  # fmt: skip
CONTACTS = [
    {"Id": "003A", "FirstName": "Robert", "LastName": "Smith", "Email": "rsmith@acmeholdings.com",
     "Phone": "415-555-0111", "AccountId": "001A", "Account": {"Name": "Acme Holdings Inc."}},
    {"Id": "003B", "FirstName": "Jane", "LastName": "Doe", "Email": "jane.doe@gmail.com",
     "AccountId": "001B", "Account": {"Name": "Globex Corporation"}},
    {"Id": "003C", "FirstName": "María", "LastName": "García", "Email": "mgarcia@globex.com",
     "AccountId": "001B", "Account": {"Name": "Globex"}},
]  # fmt: skip


def index() -> MatchIndex:
    idx = MatchIndex()
    idx.upsert("Account", ACCOUNTS)
    idx.upsert("Contact", CONTACTS)
    return idx


def ids(
    sobject: str, candidate: dict[str, Any], rules: Any, idx: MatchIndex | None = None
) -> list[str]:
    idx = idx or index()
    obj = sobject.lower()
    profile = build_profile(candidate, obj)
    ruleset = parse_rules(rules, default=default_rules(obj))
    found = match_in_index(profile, idx.objects[obj], ruleset, stats=lambda i: idx.stats(obj, i))
    return [m.id for m in found]


def test_exact_is_the_typed_value_eq_is_the_normalised_one() -> None:
    assert ids("account", {"name": "acme holdings inc."}, ["name:exact"]) == ["001A"]
    assert ids("account", {"name": "Acme Holdings"}, ["name:exact"]) == []
    assert ids("account", {"name": "ACME HOLDINGS, LLC"}, ["name:eq"]) == ["001A"]
    assert ids("account", {"phone": "415.555.0100"}, ["phone:eq"]) == ["001A"]
    assert ids("account", {"phone": "415.555.0100"}, ["phone:exact"]) == []


def test_contains_and_fuzzy() -> None:
    assert ids("account", {"name": "globex"}, ["name:contains"]) == ["001B"]
    assert ids("account", {"name": "Globexx Corp"}, ["name:fuzzy0.85"]) == ["001B"]
    assert ids("account", {"name": "Globular Corp"}, ["name:fuzzy0.85"]) == []
    assert ids("contact", {"first_name": "Maria", "last_name": "Garcia"}, ["name:fuzzy0.95"]) == [
        "003C"
    ]


def test_domain_comes_from_website_or_email_but_never_free_mail() -> None:
    assert ids("account", {"email": "pat@acmeholdings.com"}, ["domain:eq"]) == ["001A"]
    assert ids("account", {"website": "http://www.globex.com/about"}, ["domain:eq"]) == ["001B"]
    # Jane's gmail address must not make gmail.com anyone's company domain.
    assert ids("contact", {"email": "someone.else@gmail.com"}, ["domain:eq"]) == []
    assert ids("account", {"email": "x@gmail.com", "company": "Acme"}, ["domain:eq"]) == []


def test_acme_vs_acme_holdings_needs_a_supporting_field() -> None:
    # token_set_ratio calls "Acme" a perfect match of "Acme Holdings"; alone it is not one.
    assert ids("account", {"name": "Acme"}, ["name:fuzzy0.8"]) == []
    assert ids("account", {"name": "Acme"}, None) == []
    # With the phone or the domain agreeing, it is.
    assert ids("account", {"name": "Acme", "phone": "4155550100"}, ["name:fuzzy0.9"]) == ["001A"]
    assert ids("account", {"name": "Acme", "website": "acmeholdings.com"}, None) == ["001A"]


def test_acronym_with_support() -> None:
    assert ids("account", {"name": "IBM", "website": "www.ibm.com"}, ["name:fuzzy0.9"]) == ["001C"]
    assert ids("account", {"name": "IBM"}, ["name:fuzzy0.9"]) == []


def test_same_person_at_two_companies_is_two_contacts() -> None:
    robert_at_globex = {"first_name": "Bob", "last_name": "Smith", "company": "Globex",
                        "email": "bob.smith@globex.com"}  # fmt: skip
    assert ids("contact", robert_at_globex, ["name:eq"]) == ["003A"]  # the name alone says yes
    assert ids("contact", robert_at_globex, ["name_company:fuzzy0.8"]) == []
    assert ids("contact", robert_at_globex, None) == []
    robert_at_acme = {"first_name": "Bob", "last_name": "Smith", "company": "ACME Holdings"}
    assert ids("contact", robert_at_acme, ["name_company:fuzzy0.9"]) == ["003A"]
    assert ids("contact", robert_at_acme, None) == ["003A"]


def test_swapped_names_and_nicknames() -> None:
    swapped = {"first_name": "Smith", "last_name": "Robert", "email": "rsmith@acmeholdings.com"}
    assert ids("contact", swapped, ["name:fuzzy0.9"]) == ["003A"]
    assert ids("contact", {"name": "Bob Smith", "phone": "4155550111"}, None) == ["003A"]


def test_grouped_all_within_any_across_and_threshold() -> None:
    rules = {"groups": [{"all": ["domain:eq", "name:fuzzy0.8"]}, {"all": ["phone:eq"]}]}
    assert ids("account", {"name": "Globex", "website": "globex.com"}, rules) == ["001B"]
    assert ids("account", {"name": "Other", "website": "globex.com"}, rules) == []  # half a group
    assert ids("account", {"name": "Other", "phone": "212 555 0199"}, rules) == ["001B"]
    # any=false: every group must hold.
    strict = {**rules, "any": False}
    assert ids("account", {"name": "Globex", "website": "globex.com"}, strict) == []
    # The threshold cuts on overall confidence: a phone match with a contradicting name is
    # weak evidence, the same phone with the right name strong.
    weak = {"name": "Other", "phone": "212 555 0199"}
    strong = {"name": "Globex Corp", "phone": "212 555 0199"}
    assert ids("account", weak, {**rules, "threshold": 0.01}) == ["001B"]
    assert ids("account", weak, {**rules, "threshold": 0.5}) == []
    assert ids("account", strong, {**rules, "threshold": 0.99}) == ["001B"]


def test_tiebreakers_default_and_configured() -> None:
    idx = index()
    # Initech is in the org twice with the same domain: equal confidence -> tie-breakers.
    idx.upsert("Contact", [{"Id": f"003I{n}", "LastName": f"P{n}", "AccountId": "001D"}
                           for n in range(2)])  # fmt: skip
    idx.upsert("Contact", [{"Id": "003J0", "LastName": "Q", "AccountId": "001E"}])
    rules = {"by": ["domain:eq"], "max_matches": 2}
    assert ids("account", {"website": "initech.io"}, rules, idx) == ["001D", "001E"]
    # Oldest first when asked.
    assert ids("account", {"website": "initech.io"}, {**rules, "tiebreakers": ["oldest"]}, idx) == [
        "001E", "001D",
    ]  # fmt: skip
    # Opportunities count, and are kept current.
    idx.upsert("Opportunity", [{"Id": f"006{n}", "AccountId": "001E"} for n in range(3)])
    by_opps = {**rules, "tiebreakers": ["most_opportunities", "most_contacts"]}
    assert ids("account", {"website": "initech.io"}, by_opps, idx) == ["001E", "001D"]
    idx.remove("Opportunity", ["0060", "0061", "0062"])
    assert ids("account", {"website": "initech.io"}, by_opps, idx) == ["001D", "001E"]


def test_explanations_say_why_in_plain_words() -> None:
    idx = index()
    profile = build_profile({"name": "Acme Holdings", "email": "jo@acmeholdings.com"}, "account")
    [best] = match_in_index(profile, idx.objects["account"], default_rules("account"))
    assert best.id == "001A" and best.confidence > 0.99
    assert "company domain acmeholdings.com is the same" in best.explanation
    assert "legal suffixes" in best.explanation and "rules fired" in best.explanation


def test_index_upsert_replaces_and_remove_forgets() -> None:
    idx = index()
    idx.upsert("Account", [{"Id": "001B", "Name": "Globex Renamed", "Website": "globex2.com"}])
    assert ids("account", {"website": "globex.com"}, ["domain:eq"], idx) == []
    assert ids("account", {"website": "globex2.com"}, ["domain:eq"], idx) == ["001B"]
    idx.remove("Account", ["001B"])
    assert ids("account", {"website": "globex2.com"}, ["domain:eq"], idx) == []
    idx.upsert("Account", [{"Id": "001A", "IsDeleted": True}])
    assert idx.get("account", "001A") is None
