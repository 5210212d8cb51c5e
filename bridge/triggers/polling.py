"""The polling fallback: a keyset watermark over SystemModstamp + Id, read through queryAll.

One poll of one tenant's object: take the poll lock, re-read from the watermark minus a lookback
(rows become visible late), skip what the loop guard and the processed-version record say was
already handled, accept the rest into the intake stream exactly like callouts, and advance the
watermark page by page, only after the page's ids are durably accepted.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
import structlog
from redis.exceptions import LockError
from redis.lock import Lock

from bridge.db import Database
from bridge.db.base import utcnow
from bridge.metrics import counters
from bridge.salesforce.errors import SalesforceError
from bridge.salesforce.gateway import ChangePage
from bridge.triggers import versions
from bridge.triggers.intake import Submission, accept_sync
from bridge.triggers.tables import PollState

log = structlog.get_logger(__name__)

FIELDS = ("Id", "SystemModstamp", "LastModifiedById")
LOCK_PREFIX = "bridge:poll:lock:"
SUBMISSION_SIZE = 200
# Long enough for one page: its queries may time out and shrink their window several times
# (Salesforce answers QUERY_TIMEOUT after about two minutes, retries add more) before the page
# comes back. The poll renews the lock after every page, so a long poll keeps it, and a dead
# worker's lock is gone within this time instead of blocking polls for many intervals.
LOCK_TTL = timedelta(seconds=600)


class PollLockLost(Exception):
    """The poll lock expired or was taken over mid-poll: another poll may be running."""


class ChangeSource(Protocol):
    def changed_since(
        self,
        sobject: str,
        fields: tuple[str, ...],
        watermark_ts: datetime | None,
        watermark_id: str | None = None,
        *,
        include_deleted: bool = True,
    ) -> Any: ...


@dataclass
class PollOutcome:
    tenant_id: int
    object: str
    ran: bool = True
    accepted: int = 0
    skipped_loop_guard: int = 0
    skipped_already_processed: int = 0
    deleted: int = 0
    queries: int = 0
    error: str | None = None
    watermark: tuple[datetime | None, str | None] = (None, None)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Poller:
    def __init__(
        self,
        db: Database,
        client: redis.Redis,
        source: ChangeSource,
        *,
        integration_user_id: str | None,
        interval: timedelta = timedelta(seconds=120),
        lookback: timedelta = timedelta(seconds=60),
        initial_lookback: timedelta = timedelta(hours=1),
        lock_ttl: timedelta = LOCK_TTL,
    ) -> None:
        self.db = db
        self.redis = client
        self.source = source
        self.integration_user_id = integration_user_id
        self.interval = interval
        self.lookback = lookback
        self.initial_lookback = initial_lookback
        self.lock_ttl = lock_ttl

    # -- the lock beside redbeat's: exactly one poll per tenant and object at a time ---------
    def lock(self, tenant_id: int, sobject: str) -> Lock:
        """redis-py's token lock: release and renewal are compare-and-set on the token, so a
        poll that outlived its lock never deletes or extends the next poll's."""
        return self.redis.lock(
            f"{LOCK_PREFIX}{tenant_id}:{sobject}",
            timeout=self.lock_ttl.total_seconds(),
            blocking=False,
            thread_local=False,
        )

    @staticmethod
    def _renew(lock: Lock) -> None:
        try:
            lock.reacquire()  # back to the full TTL
        except LockError:
            raise PollLockLost("the poll lock expired or was taken over; poll stopped") from None

    def poll(self, tenant_id: int, sobject: str, request_id: str | None = None) -> PollOutcome:
        outcome = PollOutcome(tenant_id, sobject)
        if request_id:
            outcome.request_id = request_id
        lock = self.lock(tenant_id, sobject)
        if not lock.acquire():
            outcome.ran = False
            log.info("poll skipped: another poll holds the lock", object=sobject)
            return outcome
        started = utcnow()
        try:
            state = self._load(tenant_id, sobject)
            if state.watermark_ts is None:
                start_ts, start_id = started - self.initial_lookback, None
            elif self.lookback:
                start_ts, start_id = state.watermark_ts - self.lookback, None
            else:
                start_ts, start_id = state.watermark_ts, state.watermark_id
            outcome.watermark = (state.watermark_ts, state.watermark_id)
            pages = self.source.changed_since(
                sobject, FIELDS, start_ts, start_id, include_deleted=True
            )
            for page in pages:
                outcome.queries += 1
                # Still ours? Then nobody else polls this object while we accept the page.
                self._renew(lock)
                self._take_page(outcome, page)
                self._advance(outcome, page)
        except (SalesforceError, PollLockLost) as exc:
            # Budget, limit and persistent failures, or a lost lock, stop this poll; the
            # watermark keeps what was accepted, so the next poll resumes exactly there.
            outcome.error = f"{type(exc).__name__}: {exc}"
            log.warning("poll stopped", object=sobject, error=outcome.error)
        except Exception as exc:
            # Anything else (Redis, SQL) fails the task, and the state must not read as a
            # poll that caught up (the polling lag counts from a clean poll's start).
            outcome.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._record(outcome, started)
            with contextlib.suppress(LockError):
                lock.release()  # a no-op error when the lock is no longer ours
        return outcome

    def _take_page(self, outcome: PollOutcome, page: ChangePage) -> None:
        live = []
        for record in page.records:
            if record.get("IsDeleted"):
                outcome.deleted += 1  # noted, not processed
            elif self.integration_user_id and record.get("LastModifiedById") == (
                self.integration_user_id
            ):
                outcome.skipped_loop_guard += 1  # our own write-back: not new work
            else:
                live.append(record)
        fresh = versions.unprocessed(self.redis, outcome.tenant_id, live)
        outcome.skipped_already_processed += len(live) - len(fresh)
        ids = [r["Id"] for r in fresh]
        submissions = [
            Submission(
                tenant_id=outcome.tenant_id,
                object=outcome.object,
                ids=tuple(ids[i : i + SUBMISSION_SIZE]),
                event="poll",
                source="poll",
                request_id=outcome.request_id,
            )
            for i in range(0, len(ids), SUBMISSION_SIZE)
        ]
        if submissions:
            accept_sync(self.redis, submissions)
            counters.trigger_ids_accepted(outcome.object, "poll", len(ids))
        outcome.accepted += len(ids)

    def _advance(self, outcome: PollOutcome, page: ChangePage) -> None:
        mark = page.watermark
        current_ts, current_id = outcome.watermark
        if mark.ts is None or (
            current_ts is not None and (mark.ts, mark.id or "") <= (current_ts, current_id or "")
        ):
            return  # the lookback re-read older rows; never move backwards
        outcome.watermark = (mark.ts, mark.id)
        with self.db.session() as s:
            state = s.get(PollState, (outcome.tenant_id, outcome.object))
            assert state is not None
            state.watermark_ts, state.watermark_id = mark.ts, mark.id

    def _load(self, tenant_id: int, sobject: str) -> PollState:
        with self.db.session() as s:
            state = s.get(PollState, (tenant_id, sobject))
            if state is None:
                state = PollState(tenant_id=tenant_id, object=sobject)
                s.add(state)
            return state

    def _record(self, outcome: PollOutcome, started: datetime) -> None:
        with self.db.session() as s:
            state = s.get(PollState, (outcome.tenant_id, outcome.object))
            if state is None:
                return
            state.last_poll_time = started
            state.next_poll_time = started + self.interval
            state.records_processed = outcome.accepted
            state.records_total = (state.records_total or 0) + outcome.accepted
            state.skipped_loop_guard = outcome.skipped_loop_guard
            state.skipped_already_processed = outcome.skipped_already_processed
            state.deleted_seen = outcome.deleted
            state.queries = outcome.queries
            state.last_error = outcome.error
