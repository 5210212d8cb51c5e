"""How a process (web or worker) gets its one `MatchService`: the Redis-backed index store,
this process's in-memory copies, a builder that fills a missing index from the connected org,
and the AI client from settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from bridge.matching import loader
from bridge.matching.ai import AiMatcher
from bridge.matching.service import MatchService
from bridge.matching.store import IndexRegistry, IndexStore
from config.settings import Settings


def build_service(
    settings: Settings,
    client: redis.Redis,
    db: Any,
    gateway: Callable[[], Any] | None,
) -> tuple[MatchService, IndexStore]:
    """`gateway` returns the process's SalesforceGateway (None: no org, indexes never built
    here). A tenant's index is built on first use only if it owns the connected org."""
    from bridge.tenants.service import tenant_for_org

    store = IndexStore(client)
    registry = IndexRegistry(store, settings.matching_default_region)

    def build(tenant_id: int) -> bool:
        if gateway is None or db is None:
            return False
        sf = gateway()
        if sf.org_id is None or tenant_for_org(db, sf.org_id) != tenant_id:
            return False
        loader.rebuild(store, tenant_id, sf)
        return True

    def ai() -> AiMatcher:
        return AiMatcher(
            settings.matching_ai_base_url,
            settings.matching_ai_api_key.get_secret_value(),
            settings.matching_ai_model,
            timeout=settings.matching_ai_timeout_seconds,
        )

    service = MatchService(
        registry.get, build_index=build, ai=ai, region=settings.matching_default_region
    )
    return service, store
