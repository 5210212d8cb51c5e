"""How a worker builds the services its workflow steps use, from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import redis

from bridge.conversion.factory import build_service
from bridge.conversion.service import ConversionService
from bridge.db import Database
from bridge.enrichment.service import EnrichmentService
from bridge.forms.factory import salesforce_push
from bridge.forms.salesforce_push import SalesforcePush
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
        conversion=conversion_service(settings, client, db, push) if push else None,
        create_opportunity=settings.conversion_create_opportunity,
    )


def conversion_service(
    settings: Settings, client: redis.Redis, db: Database, push: SalesforcePush
) -> Callable[[], ConversionService]:
    """The conversion service, built on the first convert step: it shares the push's gateway
    and match index (one per process) and needs an open gateway for routing."""
    built: list[ConversionService] = []
    lock = threading.Lock()

    def get() -> ConversionService:
        from bridge.routing.step import routing_service

        with lock:
            if not built:
                routing = routing_service(db, client, push.gateway(), settings)
                built.append(build_service(
                    db, push.gateway, push.matcher, routing, client=client,
                    refresh=settings.conversion_refresh_index,
                ))  # fmt: skip
            return built[0]

    return get
