"""The rules language and the normalisers, on hand-built input."""

from __future__ import annotations

import pytest

from bridge.matching import normalize as nz
from bridge.matching.rules import RuleError, parse_rules, parse_text


def test_simple_text_and_list_forms_are_the_same_rules() -> None:
    text = parse_text("email:eq, name_company:fuzzy0.8, Company:contains, Name:exact")
    listed = parse_rules(["email:eq", "name_company:fuzzy0.8", "company:contains", "name:exact"])
    assert text.mode == listed.mode == "simple"
    assert text.groups == listed.groups
    assert [str(r) for r in text.rules] == [
        "email:eq", "name_company:fuzzy0.8", "company:contains", "name:exact",
    ]  # fmt: skip
    assert parse_text("name:fuzzy").rules[0].threshold == 0.85


def test_grouped_text_and_object_forms() -> None:
    text = parse_text("(domain:eq & name:fuzzy0.8) | email:eq threshold=0.75")
    obj = parse_rules({"groups": [{"all": ["domain:eq", "name:fuzzy0.8"]}, {"all": ["email:eq"]}],
                       "threshold": 0.75})  # fmt: skip
    assert text.mode == obj.mode == "grouped"
    assert text.groups == obj.groups and text.threshold == obj.threshold == 0.75
    assert parse_rules({"groups": [["phone:eq"], ["email:eq"]], "any": False}).any is False
    # Salesforce field names map to the canonical ones.
    assert parse_text("BillingCity:eq AND Website:eq").groups[0][0].field == "city"


@pytest.mark.parametrize(
    "rules, message",
    [
        ("email:fuzzyish", "invalid rule"),
        ("favourite_colour:eq", "unknown field"),
        ("name:fuzzy1.5", "(0, 1]"),
        ("email:eq0.5", "only fuzzy"),
        ("(a:eq & (b:eq))", "nested"),
        ({"groups": []}, "non-empty"),
        ({"by": ["email:eq"], "groups": [["email:eq"]]}, "either"),
        ({"by": ["email:eq"], "threshold": 2}, "threshold"),
        ({"by": ["email:eq"], "tiebreakers": ["loudest"]}, "unknown tiebreaker"),
        ({"by": ["email:eq"], "colour": 1}, "unknown rules option"),
        ({"mode": "fast"}, "mode"),
        (42, "must be a string"),
        ("", "no rules"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(rules: object, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace("]", r"\]")):
        parse_rules(rules)


def test_cli_files_may_name_any_column() -> None:
    assert parse_text("favourite_colour:eq", allowed=None).rules[0].field == "favourite_colour"


def test_company_names_lose_case_punctuation_and_legal_suffixes() -> None:
    assert nz.company_key("ACME Holdings, Inc.") == "acme holdings"
    assert nz.company_key("Acme GmbH & Co. KG") == "acme"
    assert nz.company_key("Intl. Widget Mfg Co") == "international widget manufacturing"
    assert nz.company_key("Müller AG") == "muller"
    assert nz.acronym(nz.company_key("International Business Machines Corp")) == "ibm"


def test_person_names_phones_domains_and_emails() -> None:
    assert nz.split_full_name("Dr. José de la Cruz Jr.") == ("jose", "de la cruz")
    assert nz.split_full_name("Smith, John") == ("john", "smith")
    assert "robert" in nz.first_name_forms("bob")
    assert "bill" not in nz.first_name_forms("bob")  # no transitive nicknames
    assert nz.phone_key("(415) 555-0100") == nz.phone_key("+1 415 555 0100") == "+14155550100"
    assert nz.phone_key("+44 20 7946 0958") == "+442079460958"
    assert nz.phone_key("12") == ""
    assert nz.registrable_domain("https://www.shop.acme.co.uk/about") == "acme.co.uk"
    assert nz.company_domain(email="jo@gmail.com") == ""  # free mail is no company domain
    assert nz.company_domain(email="jo@mail.acme.com") == "acme.com"
    assert nz.company_domain(email="jo@outlook.com", website="acme.io") == "acme.io"
    assert nz.email_key("Jo.Hn+news@GoogleMail.com") == "john@gmail.com"
