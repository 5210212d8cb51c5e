"""Spam defences: a honeypot field and a per-IP burst limit (fixed 10-second windows in Redis,
shared by every web process). A rejected submission is logged, never enriched nor pushed."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import redis.asyncio as aioredis

from bridge.coalesce import Coalescer
from bridge.forms.models import HONEYPOT_FIELD

BURST_WINDOW_SECONDS = 10
_PREFIX = "bridge:forms:burst:"


def honeypot_hit(additional_fields: dict[str, Any]) -> bool:
    value = additional_fields.get(HONEYPOT_FIELD)
    return value not in (None, "", False)


def ip_fingerprint(ip: str) -> str:
    """Logged and keyed instead of the address itself (an IP is personal data)."""
    return hashlib.sha256(ip.encode()).hexdigest()[:16]


# One call counts a whole batch of concurrent submissions (KEYS: one window key each).
_COUNT = """
local out = {}
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  out[i] = n
end
return out
"""


class BurstLimit:
    """Counts go through a `Coalescer`: a campaign burst costs one Redis call per batch, not
    one connection per request."""

    def __init__(self, client: aioredis.Redis, per_window: int) -> None:
        self.per_window = per_window
        self._script = client.register_script(_COUNT)
        self._coalescer: Coalescer[str, int] = Coalescer(self._flush, max_batch=1000)

    async def allow(self, tenant_id: int, ip: str) -> bool:
        window = int(time.time()) // BURST_WINDOW_SECONDS
        key = f"{_PREFIX}{tenant_id}:{ip_fingerprint(ip)}:{window}"
        return await self._coalescer.submit(key) <= self.per_window

    async def _flush(self, keys: list[str]) -> list[int]:
        counts = await self._script(keys=keys, args=[BURST_WINDOW_SECONDS * 2])
        return [int(c) for c in counts]
