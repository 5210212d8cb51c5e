"""The documented contract of `POST /v1/enrich/phone`, `email`, `company` and `person`.

Where the docs disagree with themselves (email `confidence` is typed 0..1 but described as
high/medium/low; phone documents no credit fields) the typed reference wins, and every answer
carries `confidence`, `credits_consumed`, `credits_remaining`, `cached` like its siblings.
"""

from __future__ import annotations

from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.enrichment.derive.domains import registered_domain

Effort = Literal["low", "medium", "high"]
RecordId = Field(min_length=1, max_length=255, description="Your unique identifier for this record")
Confidence = Field(None, ge=0, le=1, description="Confidence score (0.0-1.0) or null if not found")


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blanks(cls, value: Any) -> Any:
        return _blank_to_none(value)


def _check_email(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value


def _check_domain(value: str | None) -> str | None:
    if value is None:
        return None
    if any(c.isspace() for c in value) or registered_domain(value) is None:
        raise ValueError("not a valid domain (expected e.g. acme.com)")
    return value


class _Paid(BaseModel):
    confidence: float | None = Confidence
    credits_consumed: int = Field(description="Number of credits used for this request")
    credits_remaining: int = Field(description="Credits remaining in your account")
    processing_time_ms: int = Field(description="Time taken to process the request in ms")
    cached: bool = Field(description="Whether this result was returned from cache")


# --- phone ----------------------------------------------------------------------------------
class PhoneEnrichRequest(_Request):
    record_id: str = RecordId
    first_name: str | None = Field(None, max_length=255, description="Contact's first name")
    last_name: str | None = Field(None, max_length=255, description="Contact's last name")
    company: str | None = Field(None, max_length=255, description="Company name or website URL")
    email: str | None = Field(None, max_length=320, description="Contact's email address")
    linkedin_id: str | None = Field(None, max_length=255, description="LinkedIn slug")
    domain: str | None = Field(None, max_length=255, description="Company domain")

    _email = field_validator("email")(classmethod(lambda cls, v: _check_email(v)))

    @model_validator(mode="after")
    def _one_combination(self) -> PhoneEnrichRequest:
        named = self.first_name and self.last_name and (self.company or self.domain)
        if not (named or self.linkedin_id or self.email):
            raise ValueError(
                "provide first_name + last_name + company (or domain), or linkedin_id, or email"
            )
        return self


class PhoneEnrichResponse(_Paid):
    success: bool
    record_id: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    email: str | None = Field(None, description="Input email or email found during enrichment")
    linkedin_id: str | None = None
    phone: str | None = Field(None, description="E.164 phone number or null if not found")


# --- email ----------------------------------------------------------------------------------
class EmailEnrichRequest(_Request):
    record_id: str = RecordId
    first_name: str = Field(min_length=1, max_length=255, description="Contact's first name")
    last_name: str = Field(min_length=1, max_length=255, description="Contact's last name")
    company: str = Field(min_length=1, max_length=255, description="Company name or website URL")
    company_domain: str | None = Field(None, max_length=255, description="Company domain")
    linkedin_id: str | None = Field(None, max_length=255, description="LinkedIn slug")
    max_credits: int | None = Field(None, gt=0, description="Maximum credits to spend")

    _domain = field_validator("company_domain")(classmethod(lambda cls, v: _check_domain(v)))


class EmailEnrichResponse(_Paid):
    success: bool
    record_id: str
    first_name: str
    last_name: str
    company: str
    email: str | None = Field(None, description="Professional email address or null")


# --- company --------------------------------------------------------------------------------
class CompanyEnrichRequest(_Request):
    record_id: str = RecordId
    company_name: str | None = Field(None, max_length=255, description="Company name")
    domain: str | None = Field(None, max_length=255, description="Company domain")
    country: str | None = Field(None, max_length=100, description="Country code or name")
    external_ids: dict[str, str] | None = Field(None, description="External system ids")
    effort: Effort = "low"
    max_credits: int = Field(1, ge=1, le=100, description="Maximum credits to spend")

    _domain = field_validator("domain")(classmethod(lambda cls, v: _check_domain(v)))


class CompanyLocation(BaseModel):
    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None


class CompanyEnrichmentData(BaseModel):
    name: str | None = None
    domain: str | None = None
    linkedin_url: str | None = None
    hq: CompanyLocation = Field(default_factory=CompanyLocation)
    size_range: str | None = None
    industry: str | None = None
    geo: dict[str, Any] = Field(default_factory=dict)
    last_verified_at: str | None = None


class CompanyEnrichResponse(_Paid):
    success: bool
    record_id: str
    company: CompanyEnrichmentData | None = None


# --- person ---------------------------------------------------------------------------------
class PersonEnrichRequest(_Request):
    record_id: str = RecordId
    first_name: str = Field(min_length=1, max_length=255, description="Person's first name")
    last_name: str = Field(min_length=1, max_length=255, description="Person's last name")
    company_domain: str = Field(min_length=1, max_length=255, description="Company domain")
    email: str | None = Field(None, max_length=320, description="Person's email address")
    linkedin_id: str | None = Field(None, max_length=255, description="LinkedIn id or URL")
    effort: Effort = "low"
    max_credits: int = Field(1, ge=1, le=100, description="Maximum credits to spend")

    _domain = field_validator("company_domain")(classmethod(lambda cls, v: _check_domain(v)))
    _email = field_validator("email")(classmethod(lambda cls, v: _check_email(v)))


EmailStatus = Literal["valid", "accept_all", "risky", "invalid", "unknown"]


class PersonEnrichmentData(BaseModel):
    full_name: str | None = None
    email: str | None = None
    email_confidence: float | None = Field(None, ge=0, le=1)
    email_status: EmailStatus | None = None
    phone: str | None = None
    title: str | None = None
    linkedin_url: str | None = None
    job_last_seen_at: str | None = None


class PersonEnrichResponse(_Paid):
    success: bool
    record_id: str
    person: PersonEnrichmentData | None = None
