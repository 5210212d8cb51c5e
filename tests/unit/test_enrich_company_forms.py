"""The precomputed legal-form lookup gives exactly cleanco's answer."""

from __future__ import annotations

from cleanco import matches, typesources
from faker import Faker

from bridge.enrichment.derive.companies import legal_forms


def test_same_as_cleanco_matches() -> None:
    sources = typesources()
    names = [
        "Acme Corp, Inc.", "Müller Maschinenbau GmbH & Co. KG", "Société Générale SA",
        "The Widget Company Pty Ltd", "Oy Nokia Ab", "plain name", "",
    ]  # fmt: skip
    for locale in ("en_US", "de_DE", "fr_FR", "en_GB", "nl_NL"):
        fake = Faker(locale)
        fake.seed_instance(7)
        names += [fake.company() for _ in range(40)]
    for name in names:
        assert legal_forms(name) == matches(name, sources), name
