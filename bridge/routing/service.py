"""Round-robin assignment: one service behind POST /v1/routing/assign, the pipeline's `assign`
step and lead conversion's `set_owner_round_robin_pool`.

    pick()           the atomic Redis pick only (conversion passes the owner to convertLead,
                     then calls record() inside its own transaction); concurrent threads'
                     picks share one Redis round trip
    apick()          the same on the event loop (needs `aclient`): the picks queued in one
                     loop turn are one script call
    assign()         one record: read its owner, pick, write OwnerId, route log
    assign_records() many records (the pipeline): picks in one Redis round trip, OwnerId
                     written through sObject Collections (200 per call), route logs in one
                     transaction; records nobody can take get a `skip` route log

Salesforce refusing an owner as inactive (INACTIVE_OWNER_OR_USER) drops that user from the
active-users cache and re-picks the record without them (its earlier pick is replaced).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import redis
import redis.asyncio
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.db import Database, utcnow
from bridge.logs.service import record_action
from bridge.logs.tables import RouteLog
from bridge.routing.availability import (
    CAPPED,
    ActiveUsers,
)
from bridge.routing.batch import (
    INACTIVE_OWNER,
    MAX_REFUSALS,
    BatchAssigner,
    codes,
    refusal_reason,
)
from bridge.routing.errors import (
    AssignmentNotLogged,
    IdempotencyKeyReused,
    NoMemberAvailable,
    NotAMember,
    OwnerNotWritten,
    RecordNotFound,
    SalesforceUnavailable,
)
from bridge.routing.outcomes import Assignment, BatchAssignments, Pick, Reset, assignment
from bridge.routing.pick_async import AsyncRotation
from bridge.routing.pick_candidates import CandidateCache
from bridge.routing.pools import Pool, PoolCache
from bridge.routing.rebuild import ensure_state, rotation_snapshot
from bridge.routing.rotation import PickArgs, PickResult, Rotation
from bridge.salesforce.collections import RecordResult
from bridge.salesforce.gateway import SalesforceGateway

log = structlog.get_logger(__name__)


def _reason(reset: Reset | None, default: str | None = None) -> str | None:
    if reset is None:
        return default
    if reset.place_user_at_top:
        return f"reset: {reset.reason} (placed {reset.place_user_at_top} at top)"
    return f"reset: {reset.reason} (rotation counters reset)"


class RoutingService:
    def __init__(
        self,
        db: Database,
        client: redis.Redis,
        *,
        pools: PoolCache,
        gateway: SalesforceGateway | Callable[[], SalesforceGateway] | None = None,
        active_users: ActiveUsers | None = None,
        memo_ttl: int = 30 * 86400,
        clock: Callable[[], datetime] = utcnow,
        aclient: redis.asyncio.Redis | None = None,
    ) -> None:
        self.db = db
        self.rotation = Rotation(client)
        self.arotation = AsyncRotation(aclient) if aclient is not None else None
        self._warmed: dict[tuple[int, str, bool], float] = {}
        self.candidates = CandidateCache()
        self.redis = client
        self.pools = pools
        # A callable opens the gateway on first use (the web app starts without Salesforce).
        self._gateway = gateway
        if active_users is None and gateway is not None:
            active_users = ActiveUsers(lambda: [u["Id"] for u in self._sf().active_users(("Id",))])
        self.active_users = active_users
        self.memo_ttl = memo_ttl
        self.clock = clock

    # -- the pick ---------------------------------------------------------------------------
    def _args(
        self,
        pool: Pool,
        record_id: str,
        now: datetime,
        *,
        exclude_inactive: bool,
        reset: Reset | None,
        idempotency_key: str | None,
        replace: bool,
        refused: Collection[str],
    ) -> tuple[PickArgs, dict[str, int]]:
        top = reset.place_user_at_top if reset else None
        if top is not None and pool.member(top) is None:
            raise NotAMember(pool.name, top)
        active = None
        if exclude_inactive and self.active_users is not None and not pool.paused:
            active = self.active_users.ids()
        available = self.candidates.get(pool, now, active, refused)
        args = PickArgs(
            tenant_id=pool.tenant_id,
            pool=pool.name,
            record_id=record_id,
            now=now,
            candidates=available.candidates,
            pool_caps=pool.caps,
            pool_periods=available.pool_periods,
            memo_ttl=self.memo_ttl,
            idempotency_key=idempotency_key,
            replace=replace,
            reset_counters=reset is not None and top is None,
            top_user=top,
        )
        return args, available.skipped

    def _result(self, pool: Pool, result: PickResult, skipped: dict[str, int]) -> Pick:
        if result.status == "key_reused":
            raise IdempotencyKeyReused(pool.name, str(result.reason))
        if result.status == "none" or result.memo is None:
            if result.capped:
                skipped = {**skipped, CAPPED: result.capped}
            reason = result.reason or "nobody"
            if not pool.members:
                reason = "empty"
            elif pool.paused:
                reason = "paused"
            raise NoMemberAvailable(pool.name, reason, skipped)
        memo = result.memo
        return Pick(
            pool.name, "", memo.assigned_to, memo.sequence, memo.timestamp, memo.pool_size,
            cached=result.status == "cached", weights=result.weights,
        )  # fmt: skip

    def _run(self, pool: Pool, batch: Sequence[PickArgs]) -> list[PickResult]:
        results = self.rotation.pick_many(batch)
        if any(r.status == "rebuild" for r in results):
            ensure_state(self.db, self.redis, pool, self.clock(), self.memo_ttl)
            again = [i for i, r in enumerate(results) if r.status == "rebuild"]
            retried = self.rotation.pick_many([batch[i] for i in again])
            for i, result in zip(again, retried, strict=True):
                if result.status == "rebuild":
                    raise RuntimeError(f"pool {pool.name!r}: rotation state vanished again")
                results[i] = result
        return results

    def pick(
        self,
        tenant_id: int,
        pool: str,
        record_id: str,
        *,
        exclude_inactive: bool = True,
        reset: Reset | None = None,
        idempotency_key: str | None = None,
        replace: bool = False,
        refused: Collection[str] = (),
    ) -> Pick:
        """The next member for `record_id`, or its earlier assignment (`cached`).

        Raises PoolNotFound, NotAMember, NoMemberAvailable, IdempotencyKeyReused. Writes
        nothing outside Redis.
        """
        found = self.pools.require(tenant_id, pool)
        args, skipped = self._args(
            found, record_id, self.clock(), exclude_inactive=exclude_inactive, reset=reset,
            idempotency_key=idempotency_key, replace=replace, refused=refused,
        )  # fmt: skip
        picked = self._result(found, self._run(found, [args])[0], skipped)
        return _with_record(picked, record_id)

    async def apick(
        self,
        tenant_id: int,
        pool: str,
        record_id: str,
        *,
        exclude_inactive: bool = True,
        reset: Reset | None = None,
        idempotency_key: str | None = None,
    ) -> Pick:
        """`pick()` for code on the event loop: concurrent callers share one script call."""
        if self.arotation is None:
            raise RuntimeError("RoutingService was built without an asyncio Redis client")
        await self._warm(tenant_id, pool, exclude_inactive)
        found = self.pools.require(tenant_id, pool)  # warm: an in-memory hit
        args, skipped = self._args(
            found, record_id, self.clock(), exclude_inactive=exclude_inactive, reset=reset,
            idempotency_key=idempotency_key, replace=False, refused=(),
        )  # fmt: skip
        result = await self.arotation.pick(args)
        if result.status == "rebuild":
            await asyncio.to_thread(
                ensure_state, self.db, self.redis, found, self.clock(), self.memo_ttl
            )
            result = await self.arotation.pick(args)
            if result.status == "rebuild":
                raise RuntimeError(f"pool {pool!r}: rotation state vanished again")
        return _with_record(self._result(found, result, skipped), record_id)

    async def _warm(self, tenant_id: int, pool: str, exclude_inactive: bool) -> None:
        """Refresh the pool and active-user caches in a thread once they are half their
        lifetime old, so the loop itself never waits on SQL or Salesforce. (A pool edited
        through this process is re-read at once, on the loop: rare and one indexed read.)"""
        key = (tenant_id, pool, exclude_inactive)
        ttl = self.pools.ttl
        if exclude_inactive and self.active_users is not None:
            ttl = min(ttl, self.active_users.ttl)
        now = time.monotonic()
        if now - self._warmed.get(key, -ttl) < ttl / 2:
            return

        def load() -> None:
            found = self.pools.require(tenant_id, pool)
            if exclude_inactive and self.active_users is not None and not found.paused:
                self.active_users.ids()

        await asyncio.to_thread(load)
        self._warmed[key] = now

    def pick_many(
        self,
        tenant_id: int,
        pool: str,
        record_ids: Sequence[str],
        *,
        exclude_inactive: bool = True,
        replace: bool = False,
        refused: Collection[str] = (),
    ) -> list[Pick | NoMemberAvailable]:
        """Picks for many records in one Redis round trip, in order."""
        found = self.pools.require(tenant_id, pool)
        now = self.clock()
        options: dict[str, Any] = {
            "exclude_inactive": exclude_inactive,
            "reset": None,
            "idempotency_key": None,
            "replace": replace,
            "refused": refused,
        }
        prepared = [self._args(found, rid, now, **options) for rid in record_ids]
        results = self._run(found, [args for args, _ in prepared])
        out: list[Pick | NoMemberAvailable] = []
        for rid, (_, skipped), result in zip(record_ids, prepared, results, strict=True):
            try:
                out.append(_with_record(self._result(found, result, skipped), rid))
            except NoMemberAvailable as exc:
                out.append(exc)
        return out

    def refused_owner(self, user_id: str) -> None:
        """Salesforce refused `user_id` as an inactive owner: stop picking them."""
        log.info("routing.owner_refused", user_id=user_id)
        if self.active_users is not None:
            self.active_users.refused(user_id)

    # -- route logs -------------------------------------------------------------------------
    def record(
        self,
        session: Session,
        tenant_id: int,
        sobject: str,
        pick: Pick,
        *,
        prev_owner: str | None,
        reason: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        action: str = "assign",
    ) -> None:
        """The route log of one pick, in the caller's transaction (also used by conversion)."""
        weights = pick.weights or self.rotation.weights(tenant_id, pick.pool)
        record_action(
            session,
            tenant_id=tenant_id,
            object=sobject,
            object_id=pick.record_id,
            action=action,
            pool=pick.pool,
            assigned_to=pick.assigned_to,
            prev_owner=prev_owner,
            sequence=pick.sequence,
            reason=reason,
            idempotency_key=idempotency_key,
            request_id=request_id,
            timestamp=pick.timestamp,
            diff={
                "OwnerId": {"old": prev_owner, "new": pick.assigned_to},
                "rotation": rotation_snapshot(weights, pick.pool_size),
            },
        )

    def record_assign(
        self, session: Session, tenant_id: int, sobject: str, pick: Pick, **options: Any
    ) -> RouteLog | None:
        """`record()` of an assign (same keywords) in a savepoint of the caller's transaction.

        None when written. The twin's row when this record's pick already has its assign log
        (a concurrent request logged the same replayed pick first; the partial unique index
        refuses a second). Raises AssignmentNotLogged when the refusal is anything else (the
        sequence is logged for another record, another constraint). Either way only this row
        is rolled back, never the caller's other logs.
        """
        try:
            with session.begin_nested():
                self.record(session, tenant_id, sobject, pick, **options)
        except IntegrityError:
            twin = _twin_row(session, tenant_id, sobject, pick)
            log.info("routing.assign_already_logged", pool=pick.pool, sequence=pick.sequence)
            return twin
        return None

    def logged(self, tenant_id: int, sobject: str, pool: str, picks: Iterable[Pick]) -> set[str]:
        """Record ids whose pick already has its assign route log (the work was completed)."""
        wanted = {p.record_id: p.sequence for p in picks}
        if not wanted:
            return set()
        with self.db.session() as session:
            rows = session.execute(
                select(RouteLog.object_id, RouteLog.sequence).where(
                    RouteLog.tenant_id == tenant_id,
                    RouteLog.object == sobject,
                    RouteLog.object_id.in_(list(wanted)),
                    RouteLog.pool == pool,
                    RouteLog.action == "assign",
                )
            ).all()
        return {rid for rid, seq in rows if wanted.get(rid) == seq}

    # -- one record (the HTTP endpoint) -------------------------------------------------------
    def _sf(self) -> SalesforceGateway:
        if self._gateway is None:
            raise SalesforceUnavailable("routing needs a Salesforce gateway to write owners")
        if not isinstance(self._gateway, SalesforceGateway):
            try:
                self._gateway = self._gateway()
            except ValueError as exc:  # settings name no usable org
                raise SalesforceUnavailable(str(exc)) from None
        return self._gateway

    def current_owner(self, sobject: str, record_id: str) -> str | None:
        rows = self._sf().fetch(sobject, [record_id], ["Id", "OwnerId"])
        if not rows:
            raise RecordNotFound(sobject, record_id)
        return rows[0].get("OwnerId")

    def replay(
        self,
        tenant_id: int,
        sobject: str,
        record_id: str,
        pool: str,
        idempotency_key: str | None = None,
    ) -> Assignment | None:
        """The record's completed earlier assignment in the pool, without touching Salesforce.

        Cheap (one Redis read, one indexed SQL read): the endpoint answers retries with it
        before charging. None when there is none, or it never completed. Raises
        IdempotencyKeyReused (before any charge) when the key took another record's pick.
        """
        self.pools.require(tenant_id, pool)
        memo = self.rotation.peek(tenant_id, pool, record_id, idempotency_key)
        if memo is None:
            return None
        pick = Pick(
            pool, record_id, memo.assigned_to, memo.sequence, memo.timestamp, memo.pool_size,
            cached=True,
        )  # fmt: skip
        if not self.logged(tenant_id, sobject, pool, [pick]):
            return None
        return assignment(sobject, pick, None)

    def assign(
        self,
        tenant_id: int,
        sobject: str,
        record_id: str,
        pool: str,
        *,
        exclude_inactive: bool = True,
        reset: Reset | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Assignment:
        """Assign one record: its earlier assignment if it has one, else the next member."""
        earlier = self.replay(tenant_id, sobject, record_id, pool, idempotency_key)
        if earlier is not None:
            return earlier
        prev = self.current_owner(sobject, record_id)
        refused: set[str] = set()
        for _ in range(MAX_REFUSALS + 1):
            pick = self.pick(
                tenant_id, pool, record_id, exclude_inactive=exclude_inactive, reset=reset,
                idempotency_key=idempotency_key, replace=bool(refused), refused=refused,
            )  # fmt: skip
            done = Assignment(
                pool, sobject, record_id, pick.assigned_to, pick.sequence, pick.timestamp,
                pick.pool_size, pick.cached, prev,
            )  # fmt: skip
            if pick.cached and self.logged(tenant_id, sobject, pool, [pick]):
                return done  # completed before: nothing to redo
            if prev != pick.assigned_to:
                change = {"Id": record_id, "OwnerId": pick.assigned_to}
                result = self._sf().update(sobject, [change])[0]
                if not result.success:
                    if INACTIVE_OWNER in codes(result):
                        self.refused_owner(pick.assigned_to)
                        refused.add(pick.assigned_to)
                        self._log_refusal(tenant_id, sobject, pick, prev, request_id)
                        continue
                    message = "; ".join(e.message for e in result.errors) or "update failed"
                    raise OwnerNotWritten(record_id, codes(result), message)
            with self.db.session() as session:
                twin = self.record_assign(
                    session, tenant_id, sobject, pick, prev_owner=prev,
                    reason=_reason(reset, "round_robin"), idempotency_key=idempotency_key,
                    request_id=request_id,
                )  # fmt: skip
            if twin is not None:
                # A concurrent assign of this record replayed the same pick and logged it
                # first (one assign per pool sequence): its assignment is the answer.
                return replace(done, assigned_to=str(twin.assigned_to), timestamp=twin.timestamp,
                               cached=True, prev_owner=twin.prev_owner)  # fmt: skip
            # This call completed the assignment (also a replayed pick nobody had logged yet:
            # a concurrent twin, or a retry after a crash): it is not cached, so it is the one
            # charged; the twin that loses the log insert answers cached.
            return replace(done, cached=False)
        raise NoMemberAvailable(pool, "nobody", {"inactive": len(refused)})

    def _log_refusal(
        self, tenant_id: int, sobject: str, pick: Pick, prev: str | None, request_id: str | None
    ) -> None:
        with self.db.session() as session:
            self.record(
                session, tenant_id, sobject, pick, prev_owner=prev, action="skip",
                reason=refusal_reason(pick.assigned_to),
                request_id=request_id,
            )  # fmt: skip

    # -- many records (the pipeline) ----------------------------------------------------------
    def assign_records(
        self,
        tenant_id: int,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        pool: str,
        *,
        exclude_inactive: bool = True,
        request_ids: Mapping[str, str] | None = None,
    ) -> BatchAssignments:
        """Assign fetched records (`Id`, `OwnerId`): one pick round trip, one update per 200."""
        return BatchAssigner(
            self, tenant_id, sobject, pool, records, exclude_inactive, request_ids or {}
        ).run()

    def write_owners(self, sobject: str, picks: Sequence[Pick]) -> list[RecordResult]:
        if not picks:
            return []
        body = [{"Id": p.record_id, "OwnerId": p.assigned_to} for p in picks]
        return self._sf().update(sobject, body)  # sObject Collections: one call per 200


def _twin_row(session: Session, tenant_id: int, sobject: str, pick: Pick) -> RouteLog:
    """The assign log holding this pick's pool sequence (at most one: the unique index) when
    it is this record's (a concurrent twin logged it); else the log was refused for another
    reason: AssignmentNotLogged (a 409 over HTTP, never a 500)."""
    row = session.scalars(
        select(RouteLog).where(
            RouteLog.tenant_id == tenant_id, RouteLog.pool == pick.pool,
            RouteLog.sequence == pick.sequence, RouteLog.action == "assign",
        )
    ).one_or_none()  # fmt: skip
    if row is None or (row.object, row.object_id) != (sobject, pick.record_id):
        reason = "log_refused" if row is None else "sequence_taken"
        log.warning("routing.assign_not_logged", pool=pick.pool, sequence=pick.sequence,
                    reason=reason)  # fmt: skip
        raise AssignmentNotLogged(pick.pool, pick.sequence, reason)
    return row


def _with_record(pick: Pick, record_id: str) -> Pick:
    return replace(pick, record_id=record_id)
