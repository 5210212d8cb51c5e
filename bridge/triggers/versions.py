"""Which record versions were already processed, so a version seen twice is processed once.

A record version is its Id plus SystemModstamp. Callouts, polls (with their lookback) and
redelivered batches all funnel through here, which is what makes them idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

PREFIX = "bridge:version:"
# Longer than any lookback, dispatcher claim or retry window.
TTL_SECONDS = 7 * 24 * 3600


def _key(tenant_id: int, record_id: str) -> str:
    return f"{PREFIX}{tenant_id}:{record_id}"


def unprocessed(
    client: redis.Redis, tenant_id: int, records: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The records whose current version has not been processed yet (one round trip)."""
    if not records:
        return []
    seen = client.mget([_key(tenant_id, r["Id"]) for r in records])
    return [
        r
        for r, stamp in zip(records, seen, strict=True)
        if stamp is None or stamp.decode() != str(r.get("SystemModstamp"))
    ]


def mark_processed(
    client: redis.Redis, tenant_id: int, records: Iterable[Mapping[str, Any]]
) -> None:
    with client.pipeline(transaction=False) as pipe:
        for r in records:
            pipe.set(_key(tenant_id, r["Id"]), str(r.get("SystemModstamp")), ex=TTL_SECONDS)
        pipe.execute()
