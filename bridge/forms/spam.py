"""Spam defences: a honeypot field and a per-IP burst limit (fixed 10-second windows in Redis,
shared by every web process). A rejected submission is logged, never enriched nor pushed."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import redis.asyncio as aioredis

from bridge.forms.models import HONEYPOT_FIELD

BURST_WINDOW_SECONDS = 10
_PREFIX = "bridge:forms:burst:"


def honeypot_hit(additional_fields: dict[str, Any]) -> bool:
    value = additional_fields.get(HONEYPOT_FIELD)
    return value not in (None, "", False)


def ip_fingerprint(ip: str) -> str:
    """Logged and keyed instead of the address itself (an IP is personal data)."""
    return hashlib.sha256(ip.encode()).hexdigest()[:16]


class BurstLimit:
    def __init__(self, client: aioredis.Redis, per_window: int) -> None:
        self.client = client
        self.per_window = per_window

    async def allow(self, tenant_id: int, ip: str) -> bool:
        window = int(time.time()) // BURST_WINDOW_SECONDS
        key = f"{_PREFIX}{tenant_id}:{ip_fingerprint(ip)}:{window}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, BURST_WINDOW_SECONDS * 2)
            count, _ = await pipe.execute()
        return int(count) <= self.per_window
