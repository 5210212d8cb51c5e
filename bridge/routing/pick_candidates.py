"""Who a pick may choose from, computed once per pool and minute instead of once per pick.

Availability (working hours, out of office, Salesforce-active) and the cap period labels change
only at minute boundaries, except an out-of-office period that starts or ends inside a minute:
such a minute is never cached. The cache holds one entry per pool, keyed by the exact `Pool`
object (a re-read or edited pool is a new object) and the active-user set object, so a change
to either is seen at once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.routing.availability import INACTIVE, Periods, periods, unavailable_reason
from bridge.routing.pools import Pool
from bridge.routing.rotation import Candidate

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Available:
    candidates: tuple[Candidate, ...]
    skipped: dict[str, int]  # reason -> members skipped for it (read-only by convention)
    pool_periods: Periods


def _compute(
    pool: Pool, now: datetime, active: frozenset[str] | None, refused: Collection[str]
) -> Available:
    skipped: dict[str, int] = {}
    candidates = []
    for member in () if pool.paused else pool.members:
        why = INACTIVE if member.user_id in refused else None
        why = why or unavailable_reason(member, now, active)
        if why:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        candidates.append(
            Candidate(member.user_id, member.weight, member.caps, periods(now, member.zone))
        )
    return Available(tuple(candidates), skipped, periods(now, pool.zone))


def _steady(pool: Pool, minute: datetime) -> bool:
    """No out-of-office period of the pool starts or ends inside this minute."""
    end = minute + MINUTE
    return not any(
        minute < edge < end for m in pool.members for span in m.out_of_office for edge in span
    )


class CandidateCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], tuple[Pool, datetime, object, Available]] = {}

    def get(
        self,
        pool: Pool,
        now: datetime,
        active: frozenset[str] | None,
        refused: Collection[str] = (),
    ) -> Available:
        if refused:  # a re-pick after Salesforce refused an owner: rare, never cached
            return _compute(pool, now, active, refused)
        minute = now.replace(second=0, microsecond=0)
        key = (pool.tenant_id, pool.name)
        hit = self._entries.get(key)
        if hit is not None and hit[0] is pool and hit[1] == minute and hit[2] is active:
            return hit[3]
        found = _compute(pool, minute if _steady(pool, minute) else now, active, ())
        if _steady(pool, minute):
            self._entries[key] = (pool, minute, active, found)
        return found
