"""How the web process builds its one `FormService` from settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

from bridge.db import Database
from bridge.enrichment.service import EnrichmentService
from bridge.forms.enrich import FormEnricher
from bridge.forms.salesforce_push import SalesforcePush
from bridge.forms.service import FormService, WebhookPush
from bridge.forms.spam import BurstLimit
from bridge.matching.factory import build_service
from bridge.pipeline_config import load as load_pipeline_config
from config.settings import Settings


def salesforce_push(
    settings: Settings,
    client: redis.Redis,
    db: Database,
    gateway: Callable[[], Any] | None,
) -> SalesforcePush | None:
    """`gateway` is the process's one lazily opened gateway (None: no Salesforce configured)."""
    if gateway is None:
        return None
    matcher, store = build_service(settings, client, db, gateway)

    def assign(tenant_id: int, record_id: str, record: Mapping[str, Any], pool: str) -> str | None:
        from bridge.routing.step import routing_service

        service = routing_service(db, client, gateway(), settings)
        outcome = service.assign_records(tenant_id, "Lead", [{"OwnerId": None, **record}], pool)
        done = outcome.assigned + outcome.cached
        return done[0].assigned_to if done else None

    return SalesforcePush(gateway, client, matcher, store, assign=assign,
                          pools=settings.routing_pipeline_pools)  # fmt: skip


def form_service(
    settings: Settings,
    db: Database,
    client: redis.Redis,
    burst: BurstLimit,
    webhook: WebhookPush,
    salesforce: Callable[[], SalesforcePush | None] | None = None,
    gateway: Callable[[], Any] | None = None,
) -> FormService:
    cascade = load_pipeline_config(settings.pipeline_config).enrichment.cascade()
    enrichment = EnrichmentService.from_settings(settings, client, cascade)
    enricher = FormEnricher(enrichment, budget_credits=settings.enrich_upstream_max_credits)
    push = (
        salesforce() if salesforce is not None else salesforce_push(settings, client, db, gateway)
    )
    return FormService(settings, db, enricher, burst, salesforce=push, webhook=webhook)
