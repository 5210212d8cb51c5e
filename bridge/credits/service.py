"""Reserve-and-debit, refunds, grants and usage: the one way any endpoint spends credits.

A paid operation calls `debit` before doing the work (the reservation *is* the debit: one
guarded UPDATE plus its ledger line, in one transaction), and `refund` if the work then fails.
The `a*` variants run the same SQL in a worker thread for aiohttp handlers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from bridge.credits import store
from bridge.credits.store import NO_TAGS, Tags
from bridge.db import Database
from config.logging import current_request_id

log = structlog.get_logger(__name__)


class InsufficientCredits(Exception):
    """The tenant cannot pay `required`; `remaining` is what it has (answered as 402)."""

    def __init__(self, required: int, remaining: int) -> None:
        super().__init__(f"{required} credits required, {remaining} remaining")
        self.required = required
        self.remaining = remaining


@dataclass(frozen=True, slots=True)
class Debit:
    """A completed debit: what to refund if the paid work fails, and the balance after it."""

    tenant_id: int
    amount: int
    remaining: int
    endpoint: str
    entry_id: int | None
    tags: Tags = NO_TAGS


@dataclass(frozen=True, slots=True)
class Balance:
    remaining: int
    total: int


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"credit amounts are non-negative integers, got {amount!r}")


def debit_in(
    session: Session,
    tenant_id: int,
    amount: int,
    endpoint: str,
    tags: Tags = NO_TAGS,
    *,
    request_id: str | None = None,
) -> Debit:
    """`debit` inside the caller's transaction (so the debit commits with the caller's rows)."""
    _check_amount(amount)
    if amount == 0:  # cached results are free: no ledger line, no lock
        return Debit(tenant_id, 0, store.balance(session, tenant_id)[0], endpoint, None)
    remaining = store.take(session, tenant_id, amount)
    if remaining is None:
        raise InsufficientCredits(amount, store.balance(session, tenant_id)[0])
    entry = store.add_entry(
        session,
        tenant_id=tenant_id,
        kind=store.DEBIT,
        amount=amount,
        endpoint=endpoint,
        tags=tags,
        request_id=request_id or current_request_id(),
    )
    return Debit(tenant_id, amount, remaining, endpoint, entry.id, tags)


def debit(
    db: Database,
    tenant_id: int,
    amount: int,
    endpoint: str,
    tags: Tags = NO_TAGS,
    *,
    request_id: str | None = None,
) -> Debit:
    """Atomically take `amount` credits or raise InsufficientCredits (nothing taken)."""
    with db.session() as session:
        return debit_in(session, tenant_id, amount, endpoint, tags, request_id=request_id)


def debit_up_to(
    db: Database, tenant_id: int, amount: int, endpoint: str, *, request_id: str | None = None
) -> Debit:
    """Take `amount` credits, or what the balance has left when that is less (for work already
    done): never InsufficientCredits, at most one ledger line."""
    with db.session() as session:
        # Read under the lock, so the guarded debit of it cannot fail.
        affordable = min(amount, store.locked_remaining(session, tenant_id))
        return debit_in(session, tenant_id, affordable, endpoint, request_id=request_id)


def refund(db: Database, spent: Debit, *, request_id: str | None = None) -> int:
    """Give back a debit whose paid work failed; returns the new remaining balance.

    The refund line carries the debit's workflow/custom attributes, so usage filtered by them
    nets out. Call it once per debit: it is not idempotent.
    """
    if spent.amount == 0:
        return spent.remaining
    with db.session() as session:
        remaining = store.give(session, spent.tenant_id, spent.amount, to_total=False)
        store.add_entry(
            session,
            tenant_id=spent.tenant_id,
            kind=store.REFUND,
            amount=spent.amount,
            endpoint=spent.endpoint,
            tags=spent.tags,
            request_id=request_id or current_request_id(),
        )
        return remaining


def grant(db: Database, tenant_id: int, amount: int, *, reason: str = "grant") -> int:
    """Add purchased/allotted credits (raises the total too); returns the new remaining."""
    _check_amount(amount)
    with db.session() as session:
        remaining = store.give(session, tenant_id, amount, to_total=True)
        store.add_entry(
            session, tenant_id=tenant_id, kind=store.GRANT, amount=amount, endpoint=reason,
            request_id=current_request_id(),
        )  # fmt: skip
        return remaining


def balance(db: Database, tenant_id: int) -> Balance:
    with db.read() as session:
        return Balance(*store.balance(session, tenant_id))


def remaining(db: Database, tenant_id: int) -> int:
    return balance(db, tenant_id).remaining


def usage(
    db: Database,
    tenant_id: int,
    start: datetime,
    end: datetime,
    tags: Tags = NO_TAGS,
) -> int:
    """Credits used (debits net of refunds) between `start` and `end` inclusive, filtered by
    every tag that is set."""
    with db.read() as session:
        return store.used(session, tenant_id, start, end, tags)


# --- async doors for the event loop ------------------------------------------------------------


async def adebit(
    db: Database,
    tenant_id: int,
    amount: int,
    endpoint: str,
    tags: Tags = NO_TAGS,
    *,
    request_id: str | None = None,
) -> Debit:
    # to_thread copies contextvars, so the bound request id reaches the ledger line.
    return await asyncio.to_thread(
        debit, db, tenant_id, amount, endpoint, tags, request_id=request_id
    )


async def arefund(db: Database, spent: Debit) -> int:
    return await asyncio.to_thread(refund, db, spent)


class RemainingCache:
    """Per-process cache of each tenant's remaining credits, for `X-Credits-Remaining`.

    In-process rather than in Redis: a hit costs nothing (no network round trip on the hot
    path). A debit in this process stores the exact new balance; debits in other processes
    and CLI grants show up within `ttl` seconds, when the next miss reads SQL (in a thread).
    Remaining = the SQL balance + credits held in the tenant's ingest lease (`held`, read from
    Redis on a miss and noted by every callout that pays from it).
    """

    def __init__(
        self,
        db: Database,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        held: Callable[[int], Awaitable[int]] | None = None,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.max_entries = max_entries
        self._held_source = held
        self._values: dict[int, tuple[float, int]] = {}
        self._held: dict[int, tuple[float, int]] = {}

    def put(self, tenant_id: int, value: int) -> None:
        """The tenant's SQL balance, as a debit in this process just left it."""
        if len(self._values) >= self.max_entries:
            self._values.clear()
        self._values[tenant_id] = (time.monotonic() + self.ttl, value)

    def note_held(self, tenant_id: int, held: int) -> None:
        if len(self._held) >= self.max_entries:
            self._held.clear()
        self._held[tenant_id] = (time.monotonic() + self.ttl, held)

    @staticmethod
    def _fresh(entries: dict[int, tuple[float, int]], tenant_id: int) -> int | None:
        hit = entries.get(tenant_id)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    async def sql(self, tenant_id: int) -> int:
        hit = self._fresh(self._values, tenant_id)
        if hit is not None:
            return hit
        value = await asyncio.to_thread(remaining, self.db, tenant_id)
        self.put(tenant_id, value)
        return value

    async def held(self, tenant_id: int) -> int:
        """Credits in the tenant's ingest lease right now (not cached)."""
        held = await self._held_source(tenant_id) if self._held_source else 0
        self.note_held(tenant_id, held)
        return held

    async def with_lease(self, tenant_id: int, sql_remaining: int) -> int:
        """`sql_remaining` plus the tenant's ingest lease: what every answer reports, so it
        agrees with `/v1/credits/remaining` instead of hiding the credits parked in Redis.
        The lease as noted within `ttl` (callouts note it), else read from Redis."""
        if self._held_source is None:
            return sql_remaining
        hit = self._fresh(self._held, tenant_id)
        if hit is not None:
            return sql_remaining + hit
        try:
            return sql_remaining + await self.held(tenant_id)
        except (RedisError, OSError) as exc:  # a reported figure must not fail a paid request
            log.warning("credits.lease_unreadable", error=type(exc).__name__)
            stale = self._held.get(tenant_id)
            return sql_remaining + (stale[1] if stale is not None else 0)

    async def get(self, tenant_id: int) -> int:
        return await self.with_lease(tenant_id, await self.sql(tenant_id))

    def fresh(self, tenant_id: int) -> int | None:
        """What `get` answers when it needs no I/O (both parts cached), else None: lets the
        hot path skip awaiting."""
        value = self._fresh(self._values, tenant_id)
        if value is None or self._held_source is None:
            return value
        held = self._fresh(self._held, tenant_id)
        return None if held is None else value + held
