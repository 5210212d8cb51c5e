"""The documented contract of `POST /v1/forms/submit`.

Field checks that need configuration (required fields per form source, the phone's default
region, email deliverability) run in `bridge.forms.checks`, not here, and give the same 422.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

Disposition = Literal["return", "salesforce", "webhook"]
# A hidden input real people never fill; bots do. Its value anywhere in the form drops it.
HONEYPOT_FIELD = "hp_website"


class EnrichmentPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Enrich the submission (+3 credits)")
    fields: list[str] | None = Field(
        None, max_length=50, description="Fields wanted from enrichment; default: all known"
    )
    consent: bool | None = Field(
        None,
        description="The person's explicit consent to third-party enrichment. false: only "
        "GDPR-safe providers run; EU/EEA people only ever get GDPR-safe providers.",
    )
    time_budget_ms: int | None = Field(
        None, ge=100, le=4500, description="Enrichment time budget; default from settings"
    )


class OutputPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: Disposition = Field(
        "return",
        description="return: enriched lead in the response; salesforce: update the matching "
        "Lead/Contact or create a Lead (+1 credit); webhook: POST to `webhook_url` (+1 credit)",
    )
    webhook_url: HttpUrl | None = Field(None, description="Marketing-automation endpoint")
    lead_source: str | None = Field(None, max_length=40, description="LeadSource on new Leads")
    include_enriched_lead: bool = Field(True, description="Return the lead in the response too")

    @model_validator(mode="after")
    def _url_for_webhook(self) -> OutputPreferences:
        if self.disposition == "webhook" and self.webhook_url is None:
            raise ValueError("webhook_url is required when disposition is 'webhook'")
        return self


class FormSubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=255, description="Contact name")
    email: str | None = Field(None, max_length=320, description="Contact email address")
    company: str | None = Field(None, max_length=255, description="Company name")
    phone: str | None = Field(None, max_length=40, description="Phone number")
    title: str | None = Field(None, max_length=128, description="Job title")
    additional_fields: dict[str, Any] = Field(
        default_factory=dict, description="Additional form fields as key-value pairs"
    )
    form_source: str = Field(
        "default", min_length=1, max_length=100, description="Source of form submission"
    )
    enrichment_preferences: EnrichmentPreferences = Field(default_factory=EnrichmentPreferences)
    output_preferences: OutputPreferences = Field(default_factory=OutputPreferences)


class PushStatus(BaseModel):
    target: Literal["salesforce", "webhook"]
    success: bool
    action: str | None = Field(None, description="created, updated (Salesforce) or delivered")
    sobject: str | None = None
    record_id: str | None = None
    assigned_to: str | None = None
    attempts: int = 1
    status_code: int | None = None
    error: str | None = None


class FormSubmitResponse(BaseModel):
    success: bool
    status: Literal["enriched", "pushed", "failed"]
    request_id: str
    processing_time_ms: int
    enriched_lead: dict[str, Any] | None = None
    push_status: PushStatus | None = None
    credits_consumed: int
    credits_remaining: int
    gdpr_safe: bool
    cached: bool


# -- the audit log: GET /v1/forms/audit --------------------------------------------------------

# Every outcome a submission is audited with: the response statuses, and spam / invalid (422).
AuditStatus = Literal["enriched", "pushed", "failed", "spam", "invalid"]
AUDIT_DEFAULT_LIMIT = 100
AUDIT_MAX_LIMIT = 1000
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FormAuditQuery(BaseModel):
    """`from`/`to` as in the route-log export: ISO dates or datetimes (naive means UTC), both
    ends inclusive, a bare `to` date meaning that whole (UTC) day."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: datetime | date | None = Field(
        None, alias="from", description="Oldest submission (ISO date or datetime)."
    )
    to: datetime | date | None = Field(None, description="Newest submission, inclusive.")
    form_source: str | None = Field(
        None, min_length=1, max_length=100, description="Only this form source."
    )
    status: AuditStatus | None = Field(
        None,
        description="Only this outcome: enriched, pushed, failed, spam (dropped unprocessed) "
        "or invalid (answered 422).",
    )
    limit: int = Field(
        AUDIT_DEFAULT_LIMIT, ge=1, le=AUDIT_MAX_LIMIT, description="Entries per page."
    )
    cursor: str | None = Field(
        None,
        max_length=512,
        description="`next_cursor` of the previous page (same filters): the older entries.",
    )

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _date_or_datetime(cls, value: object) -> object:
        if isinstance(value, str) and _BARE_DATE.match(value.strip()):
            return date.fromisoformat(value.strip())
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FormAuditQuery:
        if self.start and self.end and self.start >= self.end:
            raise ValueError("'from' must not be after 'to'")
        return self

    @property
    def start(self) -> datetime | None:
        value = self.from_
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return None if value is None else datetime.combine(value, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime | None:
        """Exclusive."""
        value = self.to
        if isinstance(value, datetime):
            instant = value if value.tzinfo else value.replace(tzinfo=UTC)
            return instant + timedelta(microseconds=1)
        if value is None:
            return None
        return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


class FormAuditEntry(BaseModel):
    timestamp: datetime
    request_id: str
    form_source: str
    status: str = Field(description="enriched, pushed, failed, spam or invalid")
    request: dict[str, Any] = Field(description="The submission, personal data redacted.")
    result: dict[str, Any] = Field(
        description="What happened: the lead, enrichment notes, push result, credits (or the "
        "spam reason, or the 422's errors), personal data redacted."
    )


class FormAuditResponse(BaseModel):
    success: bool = True
    entries: list[FormAuditEntry] = Field(description="Newest first.")
    count: int = Field(description="Entries in this response.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` (same filters) for older entries; null at the end."
    )
