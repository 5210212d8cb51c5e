"""The provider cascade: per wanted field, providers in a configured order until one answers
with enough confidence. A provider is asked at most once per subject, about every field that
may still reach it, so one upstream call serves several fields and is never repeated. For
EU/EEA people, non-GDPR-safe providers are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from bridge.enrichment import gdpr
from bridge.enrichment.providers import PROVIDER_NAMES, Provider, ProviderUnavailable
from bridge.enrichment.results import EnrichmentResult, ProviderAnswer, Subject

log = structlog.get_logger(__name__)


@dataclass
class CascadeConfig:
    """Order of providers: per field, else `default_order`; acceptance threshold per field."""

    default_order: tuple[str, ...] = ("offline", "upstream")
    order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_confidence: float = 0.5
    field_min_confidence: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A misspelt provider would otherwise be passed over without a word.
        named = {("order", p) for p in self.default_order}
        named |= {(f"field_order.{f}", p) for f, order in self.order.items() for p in order}
        unknown = sorted(f"{where}: {p!r}" for where, p in named if p not in PROVIDER_NAMES)
        if unknown:
            raise ValueError(
                f"unknown enrichment provider(s) {', '.join(unknown)} "
                f"(known: {', '.join(PROVIDER_NAMES)})"
            )

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
        answers: dict[str, ProviderAnswer] = {}
        asked: set[str] = set()  # providers already asked (or skipped) for this subject

        def settled(name: str) -> bool:
            """Walk `name` past the providers already heard from: True once it is answered
            or has no provider left, False while it waits on one not asked yet."""
            order = orders[name]
            while position[name] < len(order):
                provider_name = order[position[name]]
                if provider_name not in asked:
                    return False
                value = answers.get(provider_name, ProviderAnswer()).values.get(name)
                if value is not None and value.confidence >= self.config.threshold(name):
                    result.values[name] = value
                    return True
                position[name] += 1
            return True

        pending = wanted_list
        while True:
            pending = [name for name in pending if not settled(name)]
            if not pending:
                return result
            provider_name = self._next_provider(pending, orders, position)
            asked.add(provider_name)
            provider = self.providers[provider_name]
            if restricted and not provider.gdpr_safe:
                result.skipped[provider_name] = "gdpr"
                continue
            # Every field that may still reach this provider goes in its one call: a paid
            # provider is never asked twice about one subject.
            batch = frozenset(n for n in pending if provider_name in orders[n][position[n] :])
            self._ask(provider, subject, batch, budget, result, answers)

    @staticmethod
    def _next_provider(
        pending: Sequence[str], orders: dict[str, Sequence[str]], position: dict[str, int]
    ) -> str:
        """A provider some field waits on now and no field still has to reach through
        others first (offline before upstream); with crossed orders, the first field's."""
        current = [orders[n][position[n]] for n in pending]
        later = {p for n in pending for p in orders[n][position[n] + 1 :]}
        return next((p for p in current if p not in later), current[0])

    def _usable_order(self, name: str) -> Sequence[str]:
        # Known but not running here (upstream without a URL): passed over.
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
            # Skipped (so not cached as final), but paid work done before the failure stays.
            result.skipped[provider.name] = exc.reason
            log.info("enrich.provider_skipped", provider=provider.name, reason=exc.reason)
            if exc.partial is None:
                return
            answer = exc.partial
        result.credits += answer.credits
        if answer.credits:
            result.spent_by[provider.name] = result.spent_by.get(provider.name, 0) + answer.credits
        merged = answers.setdefault(provider.name, ProviderAnswer())
        merged.values.update(answer.values)
        merged.credits += answer.credits
