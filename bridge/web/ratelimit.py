"""Per-key, per-area rate limits kept in Redis, shared by every web process.

Algorithm: GCRA (the generic cell rate algorithm, as in redis-cell and Stripe's limiter).
A limit of N per minute admits a burst of N, then one request every 60/N seconds: a sliding
window with no boundary effect where 2N requests pass around a fixed window's edge. The state
is one number per key and area (the "theoretical arrival time"), read and written by one Lua
script using Redis's own clock, no clock skew between web processes. Concurrent requests share
one script call (a `Coalescer`), so a burst costs one round trip per loop turn, not per request.

Headers: `X-RateLimit-Limit` (requests per minute), `X-RateLimit-Remaining`,
`X-RateLimit-Reset` (seconds until the full allowance is back). A refusal is a 429 with
`retry_after` in the body and `Retry-After`. If Redis is unreachable the limiter fails open
(logged): refusing all traffic because the limiter's store is down would be worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bridge.coalesce import Coalescer
from bridge.gcra import GCRA_LUA, PERIOD_MS
from bridge.web.auth import PRINCIPAL
from bridge.web.endpoints import endpoint_of
from bridge.web.errors import ApiError, Handler
from config.settings import Settings

log = structlog.get_logger(__name__)

LARGE_EXPORT_ROWS = 5_000

# One call decides for every request queued in this loop turn (KEYS[i] with limit ARGV[i]).
_GCRA = GCRA_LUA + """
local now = now_ms()
local period = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do out[i] = gcra(KEYS[i], tonumber(ARGV[i + 1]), now, period) end
return out
"""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int  # seconds; 0 when allowed

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }

    @classmethod
    def from_reply(cls, limit: int, allowed: int, remaining: int, reset_ms: int,
                   retry_ms: int) -> RateDecision:  # fmt: skip
        """From the GCRA script's answer for one key."""
        return cls(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(0, int(remaining)),
            reset_seconds=math.ceil(int(reset_ms) / 1000),
            retry_after=max(1, math.ceil(int(retry_ms) / 1000)) if not allowed else 0,
        )


def rate_key(area: str, key_id: str) -> str:
    return f"ratelimit:{area}:{key_id}"


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._script = redis.register_script(_GCRA)
        self._coalescer: Coalescer[tuple[str, int], list[int]] = Coalescer(self._flush, 500)

    async def _flush(self, hits: list[tuple[str, int]]) -> list[list[int]]:
        keys = [key for key, _ in hits]
        return list(await self._script(keys=keys, args=[PERIOD_MS, *(lim for _, lim in hits)]))

    def limit_for(self, area: str) -> int:
        return int(getattr(self.settings, f"rate_limit_{area}_per_min"))

    async def hit(self, area: str, key_id: str, limit: int | None = None) -> RateDecision | None:
        """Count one request; None when Redis cannot be reached (fail open)."""
        limit = limit if limit is not None else self.limit_for(area)
        if limit <= 0:  # 0 disables the limit for the area
            return None
        try:
            reply = await self._coalescer.submit((rate_key(area, key_id), limit))
        except (RedisError, OSError) as exc:
            log.warning("rate limiter unavailable, failing open", error=type(exc).__name__)
            return None
        return RateDecision.from_reply(limit, *reply)


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
DECISION = web.RequestKey("rate_limit", RateDecision)


def refusal(decision: RateDecision) -> ApiError:
    return ApiError(
        429,
        "Rate limit exceeded",
        details={"limit_per_minute": decision.limit},
        retry_after=decision.retry_after,
        headers=decision.headers(),
    )


async def enforce(request: web.Request, area: str, limit: int | None = None) -> None:
    """Count this request against `area` for the caller's key; 429 when over the limit."""
    caller = request.get(PRINCIPAL)
    if caller is None:
        return
    decision = await request.app[RATE_LIMITER].hit(area, caller.key_id, limit)
    if decision is None:
        return
    request[DECISION] = decision
    if not decision.allowed:
        raise refusal(decision)


async def enforce_large_export(request: web.Request, rows: int) -> None:
    """For the logs export: above 5,000 rows a second, lower limit applies (2/min default).

    Call it once the row count is known; the request has already counted against `logs`.
    """
    if rows > LARGE_EXPORT_ROWS:
        settings = request.app[RATE_LIMITER].settings
        await enforce(request, "logs_large", settings.rate_limit_logs_large_per_min)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    endpoint = endpoint_of(request)
    if (
        endpoint is not None
        and endpoint.area is not None
        and not endpoint.public
        and not endpoint.limits_itself
    ):
        await enforce(request, endpoint.area)
    return await handler(request)


def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Part of the `on_response_prepare` hook: error responses (402, 422 ...) carry them too."""
    decision = request.get(DECISION)
    if decision is not None:
        for name, value in decision.headers().items():
            response.headers.setdefault(name, value)
