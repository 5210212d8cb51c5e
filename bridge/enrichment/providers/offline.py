"""The built-in provider: facts derived from the subject's own data. Free, GDPR-safe, offline."""

from __future__ import annotations

from bridge.enrichment.derive import Derived, companies, domains, emails, names, phones, places
from bridge.enrichment.derive import titles as title_table
from bridge.enrichment.results import FieldValue, ProviderAnswer, Subject

PERSON_FIELDS = frozenset({
    "first_name", "middle_name", "last_name", "salutation", "name_suffix",
    "email", "email_domain", "email_status", "email_free", "email_disposable",
    "phone", "phone_country", "phone_line_type", "phone_time_zone",
    "mobile_phone",
    "country", "country_name", "state_code",
    "company_domain", "website", "company_basename", "company_legal_form",
    "seniority", "department",
})  # fmt: skip
COMPANY_FIELDS = frozenset({
    "company_domain", "website", "company_basename", "company_legal_form",
    "phone", "phone_country", "phone_time_zone", "country", "country_name", "state_code",
})  # fmt: skip


class OfflineProvider:
    name = "offline"
    gdpr_safe = True  # it only rearranges what the record already holds

    def supplies(self, kind: str) -> frozenset[str]:
        return PERSON_FIELDS if kind == "person" else COMPANY_FIELDS

    def lookup(self, subject: Subject, wanted: frozenset[str], budget: int) -> ProviderAnswer:
        derived = derive_all(subject)
        allowed = self.supplies(subject.kind)
        return ProviderAnswer(
            values={
                name: FieldValue(value, self.name, confidence)
                for name, (value, confidence) in derived.items()
                if name in wanted and name in allowed
            }
        )


def derive_all(subject: Subject) -> Derived:
    get = subject.get
    out: Derived = {}
    country_hint = places.country_code(get("country") or "") if get("country") else None
    if get("phone"):
        out.update(phones.derive(get("phone") or "", country_hint))
    if get("mobile_phone"):
        mobile = phones.derive(get("mobile_phone") or "", country_hint)
        if "phone" in mobile:
            out["mobile_phone"] = mobile["phone"]
        for key in ("phone_country", "phone_time_zone"):
            if key in mobile:
                out.setdefault(key, mobile[key])
    phone_country = out.get("phone_country", (None, 0.0))[0]
    out.update(places.derive(get("country"), get("state"), str(phone_country or "") or None))
    if get("email"):
        out.update(emails.derive(get("email") or ""))
    # The website is the better source for a company domain; a business email the fallback.
    sources = (
        ("company_domain", domains.from_website),
        ("website", domains.from_website),
        ("email", domains.from_email),
    )
    for source, derive in sources:
        raw = get(source)
        if raw and "company_domain" not in out:
            out.update(derive(raw))
    if get("company"):
        out.update(companies.derive(get("company") or ""))
    if subject.kind == "person":
        out.update(names.derive(get("full_name"), get("first_name"), get("last_name")))
        if get("title"):
            out.update(title_table.derive(get("title") or ""))
    return out
