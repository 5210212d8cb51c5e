"""Enriching a form through the shared provider cascade, inside a time budget.

Each provider call runs on a small thread pool and is waited on only until the deadline; one
that is still busy is cut off (skipped as `time_budget`) so the response always arrives. When
the person refused consent, or is in the EU/EEA (the cascade's own rule), only GDPR-safe
providers are in the cascade at all.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from bridge.enrichment.cascade import Cascade
from bridge.enrichment.gdpr import is_eu_person
from bridge.enrichment.providers import Provider, ProviderUnavailable
from bridge.enrichment.results import EnrichmentResult, ProviderAnswer, Subject
from bridge.enrichment.service import EnrichmentService
from bridge.forms.checks import CleanForm

SCOPE = "form"
DEFAULT_FIELDS = (
    "first_name", "last_name", "email", "email_domain", "email_status", "email_free",
    "phone", "phone_country", "phone_line_type", "country", "country_name",
    "company_domain", "website", "company_basename", "seniority", "department", "title",
)  # fmt: skip


class DeadlineProvider:
    """A provider whose answer is only waited for until `deadline` (time.monotonic())."""

    def __init__(self, inner: Provider, deadline: float, pool: ThreadPoolExecutor) -> None:
        self.inner = inner
        self.name = inner.name
        self.gdpr_safe = inner.gdpr_safe
        self.deadline = deadline
        self.pool = pool

    def supplies(self, kind: str) -> frozenset[str]:
        return self.inner.supplies(kind)

    def lookup(self, subject: Subject, wanted: frozenset[str], budget: int) -> ProviderAnswer:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProviderUnavailable("time_budget")
        future = self.pool.submit(self.inner.lookup, subject, wanted, budget)
        try:
            return future.result(timeout=left)
        except FutureTimeout:
            future.cancel()
            raise ProviderUnavailable("time_budget") from None


@dataclass
class FormEnrichment:
    result: EnrichmentResult
    gdpr_safe: bool
    restricted: bool


def subject_of(form: CleanForm, record_id: str) -> Subject:
    facts = {
        "first_name": form.first_name, "last_name": form.last_name, "email": form.email,
        "phone": form.phone, "company": form.company, "title": form.title,
        "country": form.extra.get("country"), "state": form.extra.get("state"),
        "website": form.extra.get("website"),
    }  # fmt: skip
    return Subject.of("person", record_id, {k: v for k, v in facts.items() if v is not None})


class FormEnricher:
    def __init__(self, service: EnrichmentService, *, budget_credits: int) -> None:
        self.service = service
        self.budget_credits = budget_credits
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="form-enrich")

    def enrich(
        self,
        tenant_id: int,
        subject: Subject,
        wanted: list[str],
        *,
        consent: bool | None,
        seconds: float,
    ) -> FormEnrichment:
        providers = list(self.service.cascade.providers.values())
        restricted = consent is False or is_eu_person(subject)
        scope = f"{SCOPE}:{'safe' if restricted else 'all'}"
        cache = self.service.cache
        hit = cache.get(tenant_id, scope, subject, wanted) if cache is not None else None
        if hit is not None:
            return FormEnrichment(hit, _safe(hit, providers), restricted)
        deadline = time.monotonic() + seconds
        usable = [p for p in providers if p.gdpr_safe or not restricted]
        cascade = Cascade(
            [DeadlineProvider(p, deadline, self.pool) for p in usable], self.service.cascade.config
        )
        result = cascade.run(subject, wanted, self.budget_credits)
        result.gdpr_restricted = restricted
        for provider in providers:
            if provider not in usable:
                result.skipped[provider.name] = "gdpr"
        if self.service.ledger is not None:
            for name, credits in result.spent_by.items():
                self.service.ledger.record(tenant_id, name, credits)
        if cache is not None and not set(result.skipped.values()) - {"gdpr"}:
            cache.put(tenant_id, scope, subject, wanted, result)  # only complete answers
        return FormEnrichment(result, _safe(result, providers), restricted)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _safe(result: EnrichmentResult, providers: list[Provider]) -> bool:
    """Whether every provider that contributed or spent was GDPR-safe."""
    safe = {p.name: p.gdpr_safe for p in providers}
    used = {v.provider for v in result.values.values()} | set(result.spent_by)
    return all(safe.get(name, False) for name in used)
