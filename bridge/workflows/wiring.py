"""How a worker builds the services its workflow steps use, from settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from bridge.db import Database
from bridge.enrichment.service import EnrichmentService
from bridge.forms.factory import salesforce_push
from bridge.pipeline_config import load as load_pipeline_config
from bridge.workflows.steps import StepFailed, StepServices
from config.settings import Settings


def step_services(
    settings: Settings,
    client: redis.Redis,
    db: Database,
    gateway: Callable[[], Any] | None,
) -> StepServices:
    """`gateway`: the worker process's one Salesforce gateway (None: none configured)."""
    cascade = load_pipeline_config(settings.pipeline_config).enrichment.cascade()
    push = salesforce_push(settings, client, db, gateway)

    def assign(tenant_id: int, sobject: str, record_id: str, pool: str) -> str | None:
        from bridge.routing.pools import PoolNotFound
        from bridge.routing.step import routing_service

        if push is None:
            return None
        service = routing_service(db, client, push.gateway(), settings)
        try:
            outcome = service.assign_records(
                tenant_id, sobject, [{"Id": record_id, "OwnerId": None}], pool
            )
        except PoolNotFound:
            raise StepFailed(f"routing pool {pool!r} does not exist") from None
        if outcome.failed:
            raise RuntimeError(f"owner write refused: {outcome.failed}")
        done = outcome.assigned + outcome.cached
        return done[0].assigned_to if done else None

    return StepServices(
        enrichment=EnrichmentService.from_settings(settings, client, cascade),
        salesforce=push,
        assign=assign,
        pools=settings.routing_pipeline_pools,
        webhook_secret=settings.forms_webhook_secret.get_secret_value(),
        budget_credits=settings.enrich_upstream_max_credits,
    )
