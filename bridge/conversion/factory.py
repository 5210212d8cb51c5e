"""Building the conversion service and its policy from what a process already has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from bridge.conversion.models import ConvertRequest, SidePolicy
from bridge.conversion.plan import Policy, Side
from bridge.conversion.service import ConversionService, GatewaySource
from bridge.db import Database
from bridge.matching.rules import default_rules, parse_rules
from bridge.matching.service import MatchService
from bridge.matching.store import IndexStore
from bridge.routing.service import RoutingService


def index_refresher(
    client: redis.Redis, gateway: Callable[[], Any]
) -> Callable[[int], dict[str, int]]:
    """Apply Salesforce changes since the last refresh to the tenant's index (a few SOQL
    calls; nothing when the index was never built: the first use builds it whole)."""
    from bridge.matching import loader

    store = IndexStore(client)
    return lambda tenant_id: loader.refresh(store, tenant_id, gateway())


def build_service(
    db: Database,
    gateway: GatewaySource,
    matching: MatchService | None,
    routing: RoutingService | None,
    *,
    client: redis.Redis | None = None,
    refresh: bool = True,
) -> ConversionService:
    refresher = None
    if refresh and client is not None and gateway is not None:
        service_gateway = gateway
        refresher = index_refresher(
            client, service_gateway if callable(service_gateway) else lambda: service_gateway
        )
    return ConversionService(db, gateway, matching, routing, refresh_index=refresher)


def side(value: SidePolicy | None, sobject: str) -> Side | None:
    if value is None:
        return None
    rules = parse_rules(value.rule_options(), default=default_rules(sobject))
    return Side(rules, value.create_if_no_match)


def policy_from_request(body: ConvertRequest, *, create_opportunity: bool = False) -> Policy:
    match = body.match_policy
    return Policy(
        contact=side(match.contact, "contact") if match else None,
        account=side(match.account, "account") if match else None,
        merge_contact=body.merge_policy.on_contact_match == "merge_lead_into_contact",
        attach_account=body.merge_policy.on_account_match == "attach_to_account",
        pool=body.set_owner_round_robin_pool,
        reason=body.logs.reason,
        include_diff=body.logs.include_diff,
        create_opportunity=create_opportunity,
    )
