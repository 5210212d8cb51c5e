"""Who may be picked right now: Salesforce-active, not out of office, inside working hours.

Caps are checked inside the atomic pick (their counters live in Redis); everything else is
decided here, before the pick, from the pool's config and a briefly cached list of active users.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from bridge.routing.pools import Member

log = structlog.get_logger(__name__)

INACTIVE = "inactive"
OUT_OF_OFFICE = "out_of_office"
OUTSIDE_WORKING_HOURS = "outside_working_hours"
CAPPED = "capped"


def working_at(member: Member, now: datetime) -> bool:
    if member.schedule is None:
        return True
    local = now.astimezone(member.zone)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in member.schedule.get(local.weekday(), ()))


def unavailable_reason(member: Member, now: datetime, active: frozenset[str] | None) -> str | None:
    """Why `member` cannot take a record at `now` (None: they can). `active=None`: not checked."""
    if active is not None and member.user_id not in active:
        return INACTIVE
    if any(start <= now < end for start, end in member.out_of_office):
        return OUT_OF_OFFICE
    if not working_at(member, now):
        return OUTSIDE_WORKING_HOURS
    return None


# The hour, day and month a moment falls in, as local wall-clock labels ("h:2026112514",
# "d:20261125", "m:202611"): a day cap resets at the member's own midnight.
Periods = tuple[str, str, str]


@functools.lru_cache(maxsize=4096)
def _periods(zone: ZoneInfo, minute: datetime) -> Periods:
    local = minute.astimezone(zone)
    return (f"h:{local:%Y%m%d%H}", f"d:{local:%Y%m%d}", f"m:{local:%Y%m}")


def periods(now: datetime, zone: ZoneInfo) -> Periods:
    """Cap period labels of `now` (aware) in `zone`; cached per zone and minute (hot path)."""
    return _periods(zone, now.replace(second=0, microsecond=0))


class ActiveUsers:
    """Salesforce's active user ids, cached for `ttl` seconds per process.

    `fetch` is the gateway's `active_users`. When Salesforce refuses an owner as inactive,
    `refused(user_id)` drops that user at once and schedules a re-read. If Salesforce cannot be
    reached, the last known list is kept (and logged) rather than failing every pick.
    """

    def __init__(
        self,
        fetch: Callable[[], Iterable[str]],
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.clock = clock
        self._ids: frozenset[str] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def ids(self) -> frozenset[str]:
        with self._lock:
            if self._ids is not None and self.clock() - self._read_at < self.ttl:
                return self._ids
            try:
                self._ids = frozenset(self.fetch())
            except Exception as exc:
                if self._ids is None:
                    raise
                log.warning("routing.active_users_stale", error=type(exc).__name__)
            self._read_at = self.clock()
            return self._ids

    def refused(self, user_id: str) -> None:
        with self._lock:
            if self._ids is not None:
                self._ids = self._ids - {user_id}
            self._read_at = -self.ttl  # re-read on the next pick

    def forget(self) -> None:
        with self._lock:
            self._ids = None
