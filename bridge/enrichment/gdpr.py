"""Who counts as a person in the EU/EEA: then only GDPR-safe providers may run.

Decided from the subject's own facts: its country, else the country its phone is registered
in. Either one pointing into the EU/EEA is enough (a German mobile with a US address is still
treated as EU: when in doubt, protect).
"""

from __future__ import annotations

from bridge.enrichment.derive import phones, places
from bridge.enrichment.results import Subject

# The 27 EU member states plus the EEA's Iceland, Liechtenstein and Norway.
EU_EEA = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
})  # fmt: skip


def subject_countries(subject: Subject) -> set[str]:
    found: set[str] = set()
    country = subject.get("country")
    code = places.country_code(country) if country else None
    if code:
        found.add(code)
    for name in ("phone", "mobile_phone"):
        raw = subject.get(name)
        number = phones.parse(raw, code) if raw else None
        if number is not None:
            region = phones.phonenumbers.region_code_for_number(number)
            if region:
                found.add(region)
    return found


def is_eu_person(subject: Subject) -> bool:
    return subject.kind == "person" and bool(subject_countries(subject) & EU_EEA)
