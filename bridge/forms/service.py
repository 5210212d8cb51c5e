"""`FormService`: one submission from check to disposition.

spam check -> field checks -> enrichment (time budget, GDPR) -> disposition (return, Salesforce
or webhook) -> audit row. The handler charges credits around it; this module knows no HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from bridge.credits.batcher import DebitBatcher
from bridge.credits.service import Debit, arefund
from bridge.db import Database
from bridge.forms import audit
from bridge.forms.checks import CleanForm, FormSource, check
from bridge.forms.enrich import DEFAULT_FIELDS, FormEnricher, FormEnrichment, subject_of
from bridge.forms.models import FormSubmitRequest, PushStatus
from bridge.forms.salesforce_push import SalesforcePush
from bridge.forms.spam import BurstLimit, honeypot_hit, ip_fingerprint
from config.logging import Redactor
from config.settings import Settings

log = structlog.get_logger(__name__)

# Documented credits: 2 per submission, +3 with enrichment, +1 with a push.
BASE_CREDITS = 2
ENRICH_CREDITS = 3
PUSH_CREDITS = 1

WebhookPush = Callable[[str, dict[str, Any], str, float], Awaitable[PushStatus]]


class Spam(Exception):
    """Dropped: honeypot filled or burst limit exceeded (`reason`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def price(body: FormSubmitRequest) -> int:
    pushes = body.output_preferences.disposition != "return"
    enriches = body.enrichment_preferences.enabled
    return BASE_CREDITS + ENRICH_CREDITS * enriches + PUSH_CREDITS * pushes


@dataclass
class Outcome:
    status: str  # enriched | pushed | failed
    enriched_lead: dict[str, Any]
    push_status: PushStatus | None
    gdpr_safe: bool
    cached: bool
    notes: dict[str, Any] = field(default_factory=dict)


class FormService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        enricher: FormEnricher,
        burst: BurstLimit,
        *,
        salesforce: SalesforcePush | None,
        webhook: WebhookPush,
    ) -> None:
        self.settings = settings
        self.db = db
        self.enricher = enricher
        self.burst = burst
        self.salesforce = salesforce
        self.webhook = webhook
        self.redactor = Redactor(settings.log_personal_data)
        self.audit_log = audit.AuditWriter(db, self.redactor)
        self.debits = DebitBatcher(db)

    def source(self, name: str) -> FormSource:
        return FormSource.from_settings(
            self.settings.forms_sources, name, self.settings.forms_default_region
        )

    async def screen(self, tenant_id: int, body: FormSubmitRequest, ip: str) -> None:
        """Raise `Spam` (after logging and auditing it) for a submission not to be processed."""
        reason = None
        if honeypot_hit(body.additional_fields):
            reason = "honeypot"
        elif not await self.burst.allow(tenant_id, ip):
            reason = "burst_limit"
        if reason is None:
            return
        log.info("forms.spam_dropped", reason=reason, ip=ip_fingerprint(ip),
                 form_source=body.form_source)  # fmt: skip
        raise Spam(reason)

    def validate(self, body: FormSubmitRequest) -> CleanForm:
        return check(body, self.source(body.form_source),
                     deliverability=self.settings.forms_check_deliverability)  # fmt: skip

    async def process(
        self, tenant_id: int, body: FormSubmitRequest, form: CleanForm, request_id: str
    ) -> Outcome:
        started = time.monotonic()
        prefs = body.enrichment_preferences
        seconds = (prefs.time_budget_ms or self.settings.forms_time_budget_seconds * 1000) / 1000
        lead = _lead(form)
        enrichment: FormEnrichment | None = None
        if prefs.enabled:
            subject = subject_of(form, _person_id(form.email))
            wanted = list(prefs.fields or DEFAULT_FIELDS)
            enrichment = await asyncio.to_thread(
                self.enricher.enrich, tenant_id, subject, wanted,
                consent=prefs.consent, seconds=seconds,
            )  # fmt: skip
            for name, value in enrichment.result.values.items():
                if not lead.get(name):
                    lead[name] = value.value
        notes = _notes(enrichment)
        out = body.output_preferences
        push: PushStatus | None = None
        # The push gets what is left of the 5-second promise after enrichment.
        deadline = started + max(1.0, 4.5 - (time.monotonic() - started))
        if out.disposition == "salesforce":
            push = await self._push_salesforce(tenant_id, lead, out.lead_source, request_id)
        elif out.disposition == "webhook" and out.webhook_url is not None:
            payload = {"type": "form.submitted", "request_id": request_id,
                       "form_source": body.form_source, "lead": lead,
                       "additional_fields": form.extra}  # fmt: skip
            push = await self.webhook(str(out.webhook_url), payload, request_id, deadline)
        status = "enriched" if push is None else ("pushed" if push.success else "failed")
        return Outcome(
            status=status, enriched_lead=lead, push_status=push,
            gdpr_safe=enrichment.gdpr_safe if enrichment else True,
            cached=bool(enrichment and enrichment.result.cached), notes=notes,
        )  # fmt: skip

    async def _push_salesforce(
        self, tenant_id: int, lead: dict[str, Any], lead_source: str | None, request_id: str
    ) -> PushStatus:
        if self.salesforce is None:
            return PushStatus(target="salesforce", success=False, error="Salesforce not connected")
        fields = {
            "FirstName": lead.get("first_name"), "LastName": lead.get("last_name"),
            "Email": lead.get("email"), "Phone": lead.get("phone"),
            "Company": lead.get("company"), "Title": lead.get("title"),
        }  # fmt: skip
        if lead_source:
            fields["LeadSource"] = lead_source
        try:
            return await asyncio.to_thread(self.salesforce.push, tenant_id, fields, request_id)
        except Exception as exc:  # the submission is still answered and audited
            log.warning("forms.salesforce_push_failed", error=type(exc).__name__)
            return PushStatus(target="salesforce", success=False, error=type(exc).__name__)

    async def audit(
        self, tenant_id: int, body: FormSubmitRequest, request_id: str, outcome: str,
        result: dict[str, Any],
    ) -> None:  # fmt: skip
        request = body.model_dump(mode="json")
        request["contact_name"] = request.pop("name", None)
        await self.audit_log.record(
            tenant_id=tenant_id, request_id=request_id, form_source=body.form_source,
            outcome=outcome, request=request, result=result,
        )  # fmt: skip

    async def charge(self, tenant_id: int, amount: int, request_id: str) -> Debit:
        """Coalesced with concurrent submissions; raises InsufficientCredits."""
        return await self.debits.debit(tenant_id, amount, "POST /v1/forms/submit", request_id)

    async def refund(self, spent: Debit) -> int:
        return await arefund(self.db, spent)


def _lead(form: CleanForm) -> dict[str, Any]:
    return {
        "first_name": form.first_name, "last_name": form.last_name, "email": form.email,
        "phone": form.phone, "company": form.company, "title": form.title,
    }  # fmt: skip


def _person_id(email: str) -> str:
    return "form:" + hashlib.sha256(email.lower().encode()).hexdigest()[:24]


def _notes(enrichment: FormEnrichment | None) -> dict[str, Any]:
    if enrichment is None:
        return {"enrichment": "disabled"}
    result = enrichment.result
    return {
        "providers": {k: v.provider for k, v in result.values.items()},
        "skipped": dict(result.skipped),
        "gdpr_restricted": enrichment.restricted,
    }
