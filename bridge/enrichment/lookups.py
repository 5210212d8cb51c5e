"""The four documented lookups: request -> subject and wanted fields -> documented answer.

Prices are the documented ones (phone has none documented; it is priced like the email search).
A lookup that finds nothing is not charged, a cached answer costs 0, and `max_credits` caps both
the charge and what paid providers may spend on the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bridge.enrichment.models import (
    CompanyEnrichmentData,
    CompanyEnrichRequest,
    CompanyEnrichResponse,
    CompanyLocation,
    EmailEnrichRequest,
    EmailEnrichResponse,
    PersonEnrichmentData,
    PersonEnrichRequest,
    PersonEnrichResponse,
    PhoneEnrichRequest,
    PhoneEnrichResponse,
)
from bridge.enrichment.results import EnrichmentResult, Subject

PRICES = {"phone": 5, "email": 5, "company": 5, "person": 4}


def _company_facts(company: str | None) -> dict[str, str | None]:
    """The docs allow "company name or website URL" in one field."""
    if company and "." in company and " " not in company:
        return {"company": company, "website": company}
    return {"company": company}


@dataclass(frozen=True)
class Lookup:
    """One endpoint: how to ask the cascade and how to answer."""

    name: str
    subject: Callable[[Any], Subject]
    wanted: Callable[[Any], list[str]]
    found: Callable[[Any, EnrichmentResult], bool]  # (request, result): charge or refund
    answer: Callable[[Any, EnrichmentResult, dict[str, Any]], BaseModel]

    @property
    def price(self) -> int:
        return PRICES[self.name]

    def charge_for(self, request: Any) -> int:
        cap = getattr(request, "max_credits", None)
        return min(self.price, cap) if cap else self.price

    def budget_for(self, request: Any, default: int) -> int:
        cap = getattr(request, "max_credits", None)
        return int(cap) if cap else default


# --- phone ----------------------------------------------------------------------------------
def _phone_subject(r: PhoneEnrichRequest) -> Subject:
    facts = {"first_name": r.first_name, "last_name": r.last_name, "email": r.email,
             "linkedin_id": r.linkedin_id, "company_domain": r.domain,
             **_company_facts(r.company)}  # fmt: skip
    return Subject.of("person", r.record_id, facts)


def _phone_answer(r: PhoneEnrichRequest, res: EnrichmentResult, paid: dict[str, Any]) -> BaseModel:
    return PhoneEnrichResponse(
        success=True, record_id=r.record_id, first_name=r.first_name, last_name=r.last_name,
        company=r.company, email=r.email, linkedin_id=r.linkedin_id,
        phone=res.value("phone"), confidence=res.confidence("phone"), **paid,
    )  # fmt: skip


# --- email ----------------------------------------------------------------------------------
def _email_subject(r: EmailEnrichRequest) -> Subject:
    facts = {"first_name": r.first_name, "last_name": r.last_name,
             "linkedin_id": r.linkedin_id, "company_domain": r.company_domain,
             **_company_facts(r.company)}  # fmt: skip
    return Subject.of("person", r.record_id, facts)


def _email_answer(r: EmailEnrichRequest, res: EnrichmentResult, paid: dict[str, Any]) -> BaseModel:
    return EmailEnrichResponse(
        success=True, record_id=r.record_id, first_name=r.first_name, last_name=r.last_name,
        company=r.company, email=res.value("email"), confidence=res.confidence("email"), **paid,
    )  # fmt: skip


# --- company --------------------------------------------------------------------------------
COMPANY_WANTED = ["company_name", "company_domain", "company_linkedin_url", "industry",
                  "size_range", "hq_city", "hq_state", "hq_country", "hq_postal_code",
                  "company_geo", "company_last_verified_at", "country",
                  "company_basename"]  # fmt: skip
COMPANY_FOUND = ("company_name", "company_domain", "industry", "size_range", "hq_country",
                 "company_linkedin_url")  # fmt: skip


def _company_subject(r: CompanyEnrichRequest) -> Subject:
    facts = {"company": r.company_name, "company_domain": r.domain, "country": r.country}
    return Subject.of("company", r.record_id, facts)


def _company_answer(
    r: CompanyEnrichRequest, res: EnrichmentResult, paid: dict[str, Any]
) -> BaseModel:
    v = res.value
    company = None
    if _company_found(res):
        company = CompanyEnrichmentData(
            name=v("company_name") or v("company_basename") or r.company_name,
            domain=v("company_domain"),
            linkedin_url=v("company_linkedin_url"),
            hq=CompanyLocation(
                city=v("hq_city"),
                state=v("hq_state"),
                country=v("hq_country") or v("country"),
                postal_code=v("hq_postal_code"),
            ),
            size_range=v("size_range"),
            industry=v("industry"),
            geo=v("company_geo") or {},
            last_verified_at=v("company_last_verified_at"),
        )
    return CompanyEnrichResponse(
        success=True, record_id=r.record_id, company=company,
        confidence=res.confidence(*COMPANY_FOUND), **paid,
    )  # fmt: skip


def _company_found(res: EnrichmentResult) -> bool:
    return any(name in res.values for name in COMPANY_FOUND)


# --- person ---------------------------------------------------------------------------------
PERSON_WANTED = ["first_name", "last_name", "email", "email_status", "phone", "title",
                 "linkedin_url", "job_last_seen_at"]  # fmt: skip
PERSON_FOUND = ("email", "phone", "title", "linkedin_url")


def _person_found(r: PersonEnrichRequest, res: EnrichmentResult) -> bool:
    """Something the caller did not send: the input email handed back (offline normalises
    it) is no find and is not charged."""
    if any(name in res.values for name in ("phone", "title", "linkedin_url")):
        return True
    email = res.value("email")
    return email is not None and str(email).casefold() != (r.email or "").strip().casefold()


def _person_subject(r: PersonEnrichRequest) -> Subject:
    facts = {"first_name": r.first_name, "last_name": r.last_name, "email": r.email,
             "linkedin_id": r.linkedin_id, "company_domain": r.company_domain}  # fmt: skip
    return Subject.of("person", r.record_id, facts)


def _person_answer(
    r: PersonEnrichRequest, res: EnrichmentResult, paid: dict[str, Any]
) -> BaseModel:
    v = res.value
    person = None
    if any(name in res.values for name in PERSON_FOUND):
        first, last = v("first_name") or r.first_name, v("last_name") or r.last_name
        person = PersonEnrichmentData(
            full_name=f"{first} {last}",
            email=v("email"),
            email_confidence=res.confidence("email"),
            email_status=v("email_status"),
            phone=v("phone"),
            title=v("title"),
            linkedin_url=v("linkedin_url"),
            job_last_seen_at=v("job_last_seen_at"),
        )
    return PersonEnrichResponse(
        success=True, record_id=r.record_id, person=person,
        confidence=res.confidence(*PERSON_FOUND), **paid,
    )  # fmt: skip


LOOKUPS: dict[str, Lookup] = {
    # Only the phone is wanted: an email is no step the 5 credits pay for (the upstream phone
    # search takes name + company itself), and one found but not charged would be a free gift.
    "phone": Lookup("phone", _phone_subject, lambda r: ["phone"],
                    lambda r, res: "phone" in res.values, _phone_answer),
    "email": Lookup("email", _email_subject, lambda r: ["email"],
                    lambda r, res: "email" in res.values, _email_answer),
    "company": Lookup("company", _company_subject, lambda r: COMPANY_WANTED,
                      lambda r, res: _company_found(res), _company_answer),
    "person": Lookup("person", _person_subject, lambda r: PERSON_WANTED,
                     _person_found, _person_answer),
}  # fmt: skip
