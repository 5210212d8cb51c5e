"""The provider cascade: per wanted field, providers in a configured order until one answers
with enough confidence. A provider is asked once per subject for every field waiting on it, so
one upstream call serves several fields. For EU/EEA people, non-GDPR-safe providers are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from bridge.enrichment import gdpr
from bridge.enrichment.providers import Provider, ProviderUnavailable
from bridge.enrichment.results import EnrichmentResult, ProviderAnswer, Subject

log = structlog.get_logger(__name__)


@dataclass
class CascadeConfig:
    """Order of providers: per field, else `default_order`; acceptance threshold per field."""

    default_order: tuple[str, ...] = ("offline", "upstream")
    order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_confidence: float = 0.5
    field_min_confidence: dict[str, float] = field(default_factory=dict)

    def providers_for(self, name: str) -> tuple[str, ...]:
        return self.order.get(name, self.default_order)

    def threshold(self, name: str) -> float:
        return self.field_min_confidence.get(name, self.min_confidence)


class Cascade:
    def __init__(self, providers: Iterable[Provider], config: CascadeConfig | None = None) -> None:
        self.providers = {p.name: p for p in providers}
        self.config = config or CascadeConfig()

    def provider_names(self) -> list[str]:
        return list(self.providers)

    def run(self, subject: Subject, wanted: Iterable[str], budget: int) -> EnrichmentResult:
        wanted_list = list(dict.fromkeys(wanted))
        restricted = gdpr.is_eu_person(subject)
        result = EnrichmentResult(subject.record_id, gdpr_restricted=restricted)
        orders = {f: self._usable_order(f) for f in wanted_list}
        position = dict.fromkeys(wanted_list, 0)
        pending = set(wanted_list)
        answers: dict[str, ProviderAnswer] = {}
        asked: dict[str, set[str]] = {}

        def current(name: str) -> str | None:
            order = orders[name]
            return order[position[name]] if position[name] < len(order) else None

        for name in wanted_list:
            while name in pending:
                provider_name = current(name)
                if provider_name is None:
                    pending.discard(name)
                    break
                if provider_name in result.skipped:
                    position[name] += 1
                    continue
                provider = self.providers[provider_name]
                if restricted and not provider.gdpr_safe:
                    result.skipped[provider_name] = "gdpr"
                    continue
                if name not in asked.get(provider_name, set()):
                    batch = {g for g in pending if current(g) == provider_name}
                    batch -= asked.get(provider_name, set())
                    self._ask(provider, subject, frozenset(batch), budget, result, answers)
                    asked.setdefault(provider_name, set()).update(batch)
                    if provider_name in result.skipped:
                        continue
                value = answers.get(provider_name, ProviderAnswer()).values.get(name)
                if value is not None and value.confidence >= self.config.threshold(name):
                    result.values[name] = value
                    pending.discard(name)
                else:
                    position[name] += 1
        return result

    def _usable_order(self, name: str) -> Sequence[str]:
        return [p for p in self.config.providers_for(name) if p in self.providers]

    def _ask(
        self,
        provider: Provider,
        subject: Subject,
        fields: frozenset[str],
        budget: int,
        result: EnrichmentResult,
        answers: dict[str, ProviderAnswer],
    ) -> None:
        fields = fields & provider.supplies(subject.kind)
        if not fields:
            return
        try:
            answer = provider.lookup(subject, fields, max(0, budget - result.credits))
        except ProviderUnavailable as exc:
            result.skipped[provider.name] = exc.reason
            log.info("enrich.provider_skipped", provider=provider.name, reason=exc.reason)
            return
        result.credits += answer.credits
        if answer.credits:
            result.spent_by[provider.name] = result.spent_by.get(provider.name, 0) + answer.credits
        merged = answers.setdefault(provider.name, ProviderAnswer())
        merged.values.update(answer.values)
        merged.credits += answer.credits

