"""Credits spent at paid (upstream) providers, per tenant and UTC day, in Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime

import redis

PREFIX = "bridge:enrich:spent:"
TTL_SECONDS = 400 * 24 * 3600  # a bit over a year of daily figures


class SpendLedger:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def record(self, tenant_id: int, provider: str, credits: int) -> None:
        if credits <= 0:
            return
        key = f"{PREFIX}{tenant_id}:{datetime.now(UTC).date().isoformat()}"
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, provider, credits)
            pipe.expire(key, TTL_SECONDS)
            pipe.execute()

    def spent(self, tenant_id: int, day: date | None = None) -> dict[str, int]:
        day = day or datetime.now(UTC).date()
        raw = self.redis.hgetall(f"{PREFIX}{tenant_id}:{day.isoformat()}")
        return {k.decode(): int(v) for k, v in raw.items()}
