"""The documented contract of `POST /v1/forms/submit`.

Field checks that need configuration (required fields per form source, the phone's default
region, email deliverability) run in `bridge.forms.checks`, not here, and give the same 422.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

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
