"""`EnrichmentService`: cache, then the cascade, then the spend ledger. Both doors use it: the
sync endpoints (per endpoint scope) and the pipeline's enrich step (per object scope)."""

from __future__ import annotations

from collections.abc import Iterable

import redis
import structlog

from bridge.enrichment.cache import ResultCache
from bridge.enrichment.cascade import Cascade, CascadeConfig
from bridge.enrichment.providers import Provider
from bridge.enrichment.providers.offline import OfflineProvider
from bridge.enrichment.providers.upstream import UpstreamProvider
from bridge.enrichment.results import EnrichmentResult, Subject
from bridge.enrichment.spend import SpendLedger
from config.settings import Settings

log = structlog.get_logger(__name__)

# Skips that a later attempt would meet again. Any other skip (rate limited, out of credits,
# unauthorized, unreachable, a 5xx) may pass, so a partial answer it caused is not cached.
PERMANENT_SKIPS = frozenset({"gdpr"})


class EnrichmentService:
    def __init__(
        self,
        cascade: Cascade,
        *,
        cache: ResultCache | None = None,
        ledger: SpendLedger | None = None,
    ) -> None:
        self.cascade = cascade
        self.cache = cache
        self.ledger = ledger

    @classmethod
    def from_settings(
        cls, settings: Settings, client: redis.Redis, config: CascadeConfig | None = None
    ) -> EnrichmentService:
        return cls(
            Cascade(providers_from_settings(settings), config),
            cache=ResultCache(client, settings.enrich_cache_ttl_seconds),
            ledger=SpendLedger(client),
        )

    def enrich(
        self,
        tenant_id: int,
        scope: str,
        subject: Subject,
        wanted: Iterable[str],
        *,
        budget: int,
        use_cache: bool = True,
    ) -> EnrichmentResult:
        wanted = list(dict.fromkeys(wanted))
        if use_cache and self.cache is not None:
            hit = self.cache.get(tenant_id, scope, subject, wanted)
            if hit is not None:
                return hit
        result = self.cascade.run(subject, wanted, budget)
        if self.ledger is not None:
            for provider, credits in result.spent_by.items():
                self.ledger.record(tenant_id, provider, credits)
        permanent = set(result.skipped.values()) <= PERMANENT_SKIPS
        if self.cache is not None and permanent:
            self.cache.put(tenant_id, scope, subject, wanted, result)
        return result

    def close(self) -> None:
        for provider in self.cascade.providers.values():
            close = getattr(provider, "close", None)
            if close is not None:
                close()


def providers_from_settings(settings: Settings) -> list[Provider]:
    providers: list[Provider] = [OfflineProvider()]
    if settings.enrich_upstream_url:
        providers.append(
            UpstreamProvider(
                settings.enrich_upstream_url,
                settings.enrich_upstream_api_key.get_secret_value(),
                gdpr_safe=settings.enrich_upstream_gdpr_safe,
                timeout=settings.enrich_upstream_timeout_seconds,
                max_retry_wait=settings.enrich_upstream_max_retry_wait_seconds,
            )
        )
    return providers
