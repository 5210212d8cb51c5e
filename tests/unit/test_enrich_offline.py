"""The offline provider's derivations and the GDPR rule: real libraries, no I/O."""

from __future__ import annotations

import pytest

from bridge.enrichment import gdpr
from bridge.enrichment.derive import companies, domains, emails, names, phones, places, titles
from bridge.enrichment.providers.offline import OfflineProvider
from bridge.enrichment.results import Subject


def test_phone_e164_country_line_type_and_zone() -> None:
    out = phones.derive("(415) 555-0123", "US")
    assert out["phone"][0] == "+14155550123"
    assert out["phone_country"][0] == "US"
    assert out["phone_time_zone"][0] == "America/Los_Angeles"
    mobile = phones.derive("+44 7911 123456", None)
    assert mobile["phone"][0] == "+447911123456" and mobile["phone_line_type"][0] == "mobile"
    german = phones.derive("030 1234567", "DE")
    assert german["phone"][0] == "+49301234567" and german["phone_country"][0] == "DE"
    assert phones.derive("12", "US") == {}  # invented nothing from garbage
    assert phones.derive("not a phone", None) == {}


def test_email_normalised_free_mail_and_disposable_without_dns() -> None:
    out = emails.derive("Jane.Doe@ACME.com")
    assert out["email"][0] == "Jane.Doe@acme.com"
    assert out["email_free"][0] is False and "email_status" not in out  # syntax is no status
    assert emails.derive("someone@gmail.com")["email_free"][0] is True
    assert emails.derive("x@mailinator.com")["email_status"][0] == "risky"
    assert emails.derive("not-an-email") == {"email_status": ("invalid", 0.9)}


def test_company_domain_from_website_and_business_email_only() -> None:
    assert domains.registered_domain("https://www.shop.acme.co.uk/path") == "acme.co.uk"
    assert domains.from_email("jane@eu.acme.de")["company_domain"][0] == "acme.de"
    assert domains.from_email("jane@gmail.com") == {}  # free mail says nothing of the employer
    assert domains.registered_domain("localhost") is None


def test_company_legal_form_names_titles_and_places() -> None:
    assert companies.derive("Acme Holdings GmbH")["company_basename"][0] == "Acme Holdings"
    parts = names.derive("Dr. Jane Q. Doe Jr.", None, None)
    assert parts["first_name"][0] == "Jane" and parts["last_name"][0] == "Doe"
    assert parts["salutation"][0] == "Dr." and parts["name_suffix"][0] == "Jr."
    assert titles.derive("VP of Sales")["seniority"][0] == "vp"
    assert titles.derive("Senior Software Engineer")["department"][0] == "engineering"
    assert titles.derive("Chief Financial Officer") == {
        "seniority": ("c_level", 0.7),
        "department": ("finance", 0.6),
    }
    assert titles.derive("Gardener") == {}
    assert places.country_code("Germany") == "DE" and places.country_code("UK") == "GB"
    assert places.country_code("Atlantis") is None
    assert places.state_code("California", "US") == "US-CA"


@pytest.mark.parametrize(
    ("facts", "eu"),
    [
        ({"country": "Germany"}, True),
        ({"country": "NO"}, True),  # EEA
        ({"phone": "+33 1 42 68 53 00"}, True),
        ({"country": "United States", "phone": "+49 30 1234567"}, True),  # either is enough
        ({"country": "United States", "phone": "+1 415 555 0123"}, False),
        ({"country": "Switzerland"}, False),
        ({}, False),
    ],
)
def test_eu_eea_people_by_country_or_phone(facts: dict[str, str], eu: bool) -> None:
    assert gdpr.is_eu_person(Subject.of("person", "r", facts)) is eu


def test_offline_provider_answers_only_what_is_wanted_and_derivable() -> None:
    subject = Subject.of("person", "r1", {"email": "ann@acme.io", "title": "Head of Marketing"})
    answer = OfflineProvider().lookup(
        subject, frozenset({"company_domain", "phone", "seniority"}), budget=0
    )
    assert {k: v.value for k, v in answer.values.items()} == {
        "company_domain": "acme.io",
        "seniority": "director",
    }
    assert all(v.provider == "offline" and v.confidence < 1 for v in answer.values.values())
    assert answer.credits == 0
