"""Prepaid credit leases in Redis, so trigger ingest pays inside its one Redis round trip.

Why: the ingest hot path answers after a single Redis script call. A SQL debit per callout
(even coalesced, in a worker thread) was its slowest step and the thread fought the event loop
for the GIL. So credits move from the SQL balance into a per-tenant Redis balance (a lease) in
chunks, and the intake script spends from it atomically with the accept. Nothing can overspend:
a credit is in SQL or in a lease, never both.

A lease is taken in one SQL transaction (guarded debit + a ledger line, endpoint
`triggers:lease`, request id = the lease id) and added to Redis *before* that transaction
commits, exactly once per lease id. A crash in between can only leave credits in Redis that
SQL did not debit (the tenant's gain, at most one chunk), never credits lost.

A chunk is at most `max_chunk` and at most 1/`share` of the balance (but always enough for the
callout at hand), so a lease never hides much of a small balance from the other endpoints. When
a tenant's lease has been idle for `idle_seconds` it is returned: moved atomically to a
`returning` key, refunded in SQL (a refund line under the lease id; a unique index makes it
exactly once even if two processes finish the same return), then the key is deleted.
`maintain()` does that and finishes returns a crash interrupted. Usage therefore counts a lease
as spent until its rest is returned: over by at most one chunk, exact once the tenant is idle.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
import structlog
from sqlalchemy.exc import IntegrityError

from bridge.credits import store
from bridge.db import Database
from bridge.refresh_cache import retrieve_failure

log = structlog.get_logger(__name__)

ENDPOINT = "triggers:lease"
LEASE_PREFIX = "bridge:credits:lease:"  # hash per tenant: c = credits held, at = last use (ms)
_APPLIED_PREFIX = "bridge:credits:lease-applied:"
_RETURNING_PREFIX = "bridge:credits:returning:"
_APPLIED_TTL_SECONDS = 7 * 24 * 3600

# KEYS: lease hash, applied marker. ARGV: amount, marker ttl. Returns the credits now held.
_APPLY = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'at', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  return redis.call('HINCRBY', KEYS[1], 'c', ARGV[1])
end
return tonumber(redis.call('HGET', KEYS[1], 'c')) or 0
"""

# KEYS: lease hash. Empties the lease and returns what it held.
_DRAIN = """
local held = tonumber(redis.call('HGET', KEYS[1], 'c')) or 0
if held > 0 then redis.call('HSET', KEYS[1], 'c', 0) end
return held
"""

# KEYS: lease hash, returning key. ARGV: idle ms, tenant id. Moves an idle lease's credits to
# the returning key ("tenant:amount") and returns the amount (0: nothing to return).
_TAKE_IDLE = """
local held = tonumber(redis.call('HGET', KEYS[1], 'c')) or 0
local at = tonumber(redis.call('HGET', KEYS[1], 'at')) or 0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if held <= 0 or now - at < tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'c', 0)
redis.call('SET', KEYS[2], ARGV[2] .. ':' .. held)
return held
"""


@dataclass(frozen=True, slots=True)
class Refill:
    ok: bool  # True: the cost is paid; False: balance and lease together cannot pay (402)
    balance: int  # the SQL balance after the refill
    held: int  # credits in the lease now


def lease_key(tenant_id: int) -> str:
    return f"{LEASE_PREFIX}{tenant_id}"


class CreditLeases:
    def __init__(
        self,
        db: Database,
        client: aioredis.Redis,
        redis_url: str,
        *,
        max_chunk: int = 10_000,
        share: int = 20,
        idle_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.redis = client
        # The apply runs inside the SQL transaction, in a worker thread: a blocking client.
        self._sync = redis.Redis.from_url(redis_url, socket_timeout=5, max_connections=8)
        self._apply = self._sync.register_script(_APPLY)
        self._drain = self._sync.register_script(_DRAIN)
        self._take_idle = client.register_script(_TAKE_IDLE)
        self.max_chunk = max_chunk
        self.share = share
        self.idle_ms = int(idle_seconds * 1000)
        self._refills: dict[int, asyncio.Future[Refill]] = {}
        self._low_water: dict[int, int] = {}  # top up below this (a quarter of the last chunk)

    def close(self) -> None:
        self._sync.close()

    async def held(self, tenant_id: int) -> int:
        return int(await self.redis.hget(lease_key(tenant_id), "c") or 0)

    async def refill(self, tenant_id: int, cost: int) -> Refill | None:
        """Pay `cost` straight from a new lease (the rest of the chunk goes to Redis), so the
        refilling callout cannot be starved by others spending the chunk first.

        One refill per tenant at a time in this process: a callout arriving while one runs
        waits for it and gets None (try the lease again), instead of leasing another chunk.
        """
        running = self._refills.get(tenant_id)
        if running is not None:
            await asyncio.wait({running})
            return None
        return await asyncio.shield(self._start(tenant_id, cost))

    def note_spent(self, tenant_id: int, held: int) -> None:
        """After a callout paid from the lease: when it runs low, top it up in the background,
        so callouts do not wait for SQL when it runs dry."""
        if held < self._low_water.get(tenant_id, 0) and tenant_id not in self._refills:
            self._start(tenant_id, 0).add_done_callback(retrieve_failure)  # the next one retries

    def _start(self, tenant_id: int, cost: int) -> asyncio.Future[Refill]:
        task = asyncio.ensure_future(asyncio.to_thread(self._lease, tenant_id, cost))
        self._refills[tenant_id] = task
        task.add_done_callback(lambda _: self._refills.pop(tenant_id, None))
        return task

    async def give_back(self, tenant_id: int, credits: int) -> None:
        """A callout paid by `refill` turned out a duplicate: its credits go to the lease."""
        await self.redis.hincrby(lease_key(tenant_id), "c", credits)

    def _lease(self, tenant_id: int, cost: int) -> Refill:
        lease_id = uuid.uuid4().hex
        key = lease_key(tenant_id)
        with self.db.session() as session:
            balance = store.balance(session, tenant_id)[0]
            if balance >= cost:
                chunk = min(balance, max(cost, min(self.max_chunk, balance // self.share)))
                from_lease = 0
                if chunk == 0:  # a top-up with nothing left to lease
                    return Refill(cost == 0, balance, 0)
            else:  # the tenant's last credits: the balance and what the lease holds together
                from_lease = int(self._drain(keys=[key]))
                if balance + from_lease < cost:
                    self._sync.hincrby(key, "c", from_lease)
                    return Refill(False, balance, from_lease)
                chunk = cost - from_lease
            left = store.take(session, tenant_id, chunk)
            if left is None:  # cannot happen under the write lock; be safe anyway
                self._sync.hincrby(key, "c", from_lease)
                return Refill(False, balance, from_lease)
            store.add_entry(
                session, tenant_id=tenant_id, kind=store.DEBIT, amount=chunk,
                endpoint=ENDPOINT, request_id=lease_id,
            )  # fmt: skip
            # Before commit: a failure here rolls the debit back; see the module docstring.
            held = self._apply(
                keys=[key, f"{_APPLIED_PREFIX}{lease_id}"],
                args=[chunk + from_lease - cost, _APPLIED_TTL_SECONDS],
            )
        self._low_water[tenant_id] = chunk // 4
        log.info("credits.lease_taken", tenant_id=tenant_id, credits=chunk)
        return Refill(True, left, int(held))

    async def maintain(self) -> int:
        """Return idle leases and finish interrupted returns; the credits given back."""
        returned = 0
        async for key in self.redis.scan_iter(match=f"{LEASE_PREFIX}*", count=500):
            name = _text(key)
            tenant = name.removeprefix(LEASE_PREFIX)
            returning = f"{_RETURNING_PREFIX}{uuid.uuid4().hex}"
            await self._take_idle(keys=[name, returning], args=[self.idle_ms, tenant])
        async for key in self.redis.scan_iter(match=f"{_RETURNING_PREFIX}*", count=500):
            name = _text(key)
            value = await self.redis.get(name)
            if value is None:
                continue
            tenant, _, amount = _text(value).partition(":")
            lease_id = name.removeprefix(_RETURNING_PREFIX)
            if await asyncio.to_thread(self._refund, int(tenant), int(amount), lease_id):
                returned += int(amount)
            await self.redis.delete(name)
        return returned

    def _refund(self, tenant_id: int, amount: int, lease_id: str) -> bool:
        try:
            with self.db.session() as session:
                store.give(session, tenant_id, amount, to_total=False)
                store.add_entry(
                    session, tenant_id=tenant_id, kind=store.REFUND, amount=amount,
                    endpoint=ENDPOINT, request_id=lease_id,
                )  # fmt: skip
        except IntegrityError:  # another process finished this return first
            return False
        log.info("credits.lease_returned", tenant_id=tenant_id, credits=amount)
        return True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
