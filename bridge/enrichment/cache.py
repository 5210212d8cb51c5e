"""Cached cascade results per tenant, scope (endpoint or object) and record id, in Redis.

A hit needs the same input facts (fingerprint) and a superset of the wanted fields: a caller
who sends the same `record_id` with a different email gets a fresh answer, not a stale one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import redis

from bridge.enrichment.results import EnrichmentResult, Subject

PREFIX = "bridge:enrich:cache:"


def _key(tenant_id: int, scope: str, record_id: str) -> str:
    return f"{PREFIX}{tenant_id}:{scope}:{record_id}"


class ResultCache:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self.redis = client
        self.ttl = ttl_seconds

    def get(
        self, tenant_id: int, scope: str, subject: Subject, wanted: Iterable[str]
    ) -> EnrichmentResult | None:
        raw = self.redis.get(_key(tenant_id, scope, subject.record_id))
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
        except ValueError:
            return None
        if entry.get("fingerprint") != subject.fingerprint():
            return None
        if not set(wanted) <= set(entry.get("wanted", ())):
            return None
        result = EnrichmentResult.from_json(entry["result"])
        result.cached = True
        result.credits = 0  # a cached answer costs nothing
        return result

    def put(
        self,
        tenant_id: int,
        scope: str,
        subject: Subject,
        wanted: Iterable[str],
        result: EnrichmentResult,
    ) -> None:
        entry = {
            "fingerprint": subject.fingerprint(),
            "wanted": sorted(set(wanted)),
            "result": result.as_json(),
        }
        self.redis.set(_key(tenant_id, scope, subject.record_id), json.dumps(entry), ex=self.ttl)
