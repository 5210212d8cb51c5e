"""The pipeline's `assign` step: route a batch's records through a round-robin pool.

Construction (a worker builds it next to the other steps; see docs/routing.md):

    service = routing_service(db, redis_client, gateway, settings)
    step = AssignStep(service, {"Lead": "inbound"}, route_owned_by={gateway.integration_user_id})
    Pipeline(gateway, redis_client, integration_user_id=..., steps={"Lead": [..., step]})

`route_owned_by`: only records currently owned by one of these users are routed (typically the
integration user or the org's default lead owner), so a record a person re-assigned by hand is
never taken back. None routes every record of the object. A record already assigned in the pool
keeps its owner (the rotation does not advance). OwnerId goes back through sObject Collections,
one call per 200 records; every record gets a route log (assign, or skip when nobody was
available, or error when Salesforce refused the write).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import redis
import structlog

from bridge.db import Database
from bridge.pipeline import BatchContext
from bridge.routing.pools import PoolCache
from bridge.routing.service import RoutingService
from bridge.salesforce.gateway import SalesforceGateway
from config.settings import Settings

log = structlog.get_logger(__name__)


class AssignStep:
    name = "assign"

    def __init__(
        self,
        service: RoutingService,
        pools: Mapping[str, str],
        *,
        route_owned_by: Collection[str] | None = None,
        exclude_inactive: bool = True,
    ) -> None:
        self.service = service
        self.pools = dict(pools)
        self.route_owned_by = set(route_owned_by) if route_owned_by is not None else None
        self.exclude_inactive = exclude_inactive

    def fields(self, sobject: str) -> set[str]:
        return {"OwnerId"} if sobject in self.pools else set()

    def run(self, context: BatchContext) -> None:
        pool = self.pools.get(context.object)
        if pool is None:
            return
        records = [
            r
            for r in context.records
            if self.route_owned_by is None or r.get("OwnerId") in self.route_owned_by
        ]
        if not records:
            return
        outcome = self.service.assign_records(
            context.tenant_id,
            context.object,
            records,
            pool,
            exclude_inactive=self.exclude_inactive,
            request_ids={rid: item.request_id for rid, item in context.items.items()},
        )
        for record_id, why in outcome.failed.items():  # the write or its route log refused
            context.fail(record_id, f"assign: {why}")
        owners = {a.record_id: a.assigned_to for a in [*outcome.assigned, *outcome.cached]}
        for record in records:  # later steps see the new owner
            record["OwnerId"] = owners.get(record["Id"], record.get("OwnerId"))
        log.info(
            "routing.step",
            object=context.object,
            pool=pool,
            assigned=len(outcome.assigned),
            cached=len(outcome.cached),
            unassigned=len(outcome.unassigned),
            failed=len(outcome.failed),
        )


def routing_service(
    db: Database, client: redis.Redis, gateway: SalesforceGateway, settings: Settings
) -> RoutingService:
    """The routing service as a worker process builds it (settings-driven)."""
    service = RoutingService(
        db,
        client,
        pools=PoolCache(db, ttl=settings.routing_pool_cache_seconds),
        gateway=gateway,
        memo_ttl=settings.routing_replay_days * 86400,
    )
    if service.active_users is not None:
        service.active_users.ttl = settings.routing_active_users_ttl_seconds
    return service


def assign_step_from_settings(
    db: Database, client: redis.Redis, gateway: SalesforceGateway, settings: Settings
) -> AssignStep | None:
    """`routing_pipeline_pools` as a step, routing records owned by the integration user."""
    if not settings.routing_pipeline_pools:
        return None
    return AssignStep(
        routing_service(db, client, gateway, settings),
        settings.routing_pipeline_pools,
        route_owned_by={gateway.integration_user_id} if gateway.integration_user_id else None,
    )
