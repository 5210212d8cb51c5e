"""Restoring a pool's rotation from the route logs after Redis lost it (FLUSHDB, failover).

Every pick's route log carries the pool's current weights after that pick (`diff.rotation`).
The log with the highest sequence number therefore holds the exact state to resume from; the
cap counters are recounted from the period's assign logs, and the per-record and
per-Idempotency-Key replays from the logs still inside the replay window. A new pool has no
logs and starts at sequence 0 with every current weight 0.

One process rebuilds (a Redis lock); the others wait for `init` to appear.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import redis
import structlog
from sqlalchemy import func, select

from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.routing import rotation as keys
from bridge.routing.availability import periods
from bridge.routing.pools import Pool
from bridge.routing.rotation import CAP_TTLS, POOL_CAPS, Memo

log = structlog.get_logger(__name__)

LOCK_SECONDS = 60
WAIT_SECONDS = 30.0
MONTH_LOOKBACK = timedelta(days=32)


class RebuildTimeout(RuntimeError):
    pass


@dataclass(frozen=True)
class RebuildSummary:
    sequence: int
    weights: dict[str, int]
    counters: int
    memos: int


def rotation_snapshot(weights: dict[str, int], pool_size: int) -> dict[str, object]:
    """What each pick's route log carries under `diff.rotation`."""
    return {"weights": weights, "pool_size": pool_size}


def _state(db: Database, pool: Pool) -> tuple[int, dict[str, int]]:
    base = (RouteLog.tenant_id == pool.tenant_id, RouteLog.pool == pool.name)
    with db.session() as session:
        top = session.scalar(select(func.max(RouteLog.sequence)).where(*base)) or 0
        # The newest snapshot; rows without one (written by other tools) are passed over.
        rows = session.execute(
            select(RouteLog.sequence, RouteLog.diff)
            .where(*base, RouteLog.sequence.is_not(None))
            .order_by(RouteLog.sequence.desc(), RouteLog.id.desc())
            .limit(50)
        ).all()
    for _, diff in rows:
        rotation = (diff or {}).get("rotation") if isinstance(diff, dict) else None
        if isinstance(rotation, dict) and isinstance(rotation.get("weights"), dict):
            return int(top), {str(k): int(v) for k, v in rotation["weights"].items()}
    return int(top), {}


def _assign_rows(db: Database, pool: Pool, since: datetime) -> list[tuple]:
    with db.session() as session:
        return list(
            session.execute(
                select(
                    RouteLog.object_id,
                    RouteLog.assigned_to,
                    RouteLog.sequence,
                    RouteLog.timestamp,
                    RouteLog.idempotency_key,
                    RouteLog.diff,
                )
                .where(
                    RouteLog.tenant_id == pool.tenant_id,
                    RouteLog.pool == pool.name,
                    RouteLog.action == "assign",
                    RouteLog.timestamp >= since,
                )
                .order_by(RouteLog.sequence, RouteLog.id)
            ).all()
        )


def restore(
    db: Database, client: redis.Redis, pool: Pool, now: datetime, memo_ttl: int
) -> RebuildSummary:
    """Write the pool's rotation state from the route logs (caller holds the lock)."""
    sequence, weights = _state(db, pool)
    since = min(now - MONTH_LOOKBACK, now - timedelta(seconds=memo_ttl))
    rows = _assign_rows(db, pool, since)
    counts: Counter[str] = Counter()
    zones = {m.user_id: m.zone for m in pool.members}
    current = {
        POOL_CAPS: periods(now, pool.zone),
        **{m.user_id: periods(now, m.zone) for m in pool.members},
    }
    memos: dict[str, tuple[str, int]] = {}
    key_memos: dict[str, tuple[str, int]] = {}
    for object_id, assigned_to, seq, stamp, idem_key, diff in rows:
        if assigned_to is None or seq is None:
            continue
        for who, zone in ((POOL_CAPS, pool.zone), (assigned_to, zones.get(assigned_to))):
            if zone is None or who not in current:
                continue
            for period, now_period in zip(periods(stamp, zone), current[who], strict=True):
                if period == now_period:
                    counts[keys.cap_key(pool.tenant_id, pool.name, who, now_period)] += 1
        ttl = memo_ttl - int((now - stamp).total_seconds())
        if ttl <= 0:
            continue
        rotation = (diff or {}).get("rotation") or {}
        size = int(rotation.get("pool_size", 0)) if isinstance(rotation, dict) else 0
        memo = Memo(assigned_to, seq, stamp, size)
        memos[keys.record_key(pool.tenant_id, pool.name, object_id)] = (memo.encode(), ttl)
        if idem_key:  # tied to its record: the key reused for another one is refused
            key_memos[keys.key_memo_key(pool.tenant_id, pool.name, idem_key)] = (
                replace(memo, record_id=object_id).encode(), ttl)  # fmt: skip
    ttls = {
        keys.cap_key(pool.tenant_id, pool.name, who, period): ttl
        for who, triple in current.items()
        for period, ttl in zip(triple, CAP_TTLS, strict=True)
    }
    state = keys.state_key(pool.tenant_id, pool.name)
    pipe = client.pipeline(transaction=True)
    pipe.delete(state)
    mapping: dict[str, str | int] = {f"cw:{user}": value for user, value in weights.items()}
    mapping["seq"] = sequence
    for key, count in counts.items():
        pipe.set(key, count, ex=ttls[key])
    for key, (value, ttl) in (memos | key_memos).items():
        pipe.set(key, value, ex=ttl)
    mapping["init"] = 1  # last: a pick only proceeds once the whole state is there
    pipe.hset(state, mapping=mapping)
    pipe.execute()
    summary = RebuildSummary(sequence, weights, len(counts), len(memos) + len(key_memos))
    log.info(
        "routing.rebuilt",
        pool=pool.name,
        sequence=sequence,
        counters=summary.counters,
        replays=summary.memos,
    )
    return summary


def ensure_state(
    db: Database,
    client: redis.Redis,
    pool: Pool,
    now: datetime,
    memo_ttl: int,
    *,
    sleep: float = 0.01,
) -> RebuildSummary | None:
    """Rebuild the pool's state unless present; returns the summary when this call rebuilt."""
    state = keys.state_key(pool.tenant_id, pool.name)
    lock = keys.rebuild_lock_key(pool.tenant_id, pool.name)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_SECONDS
    while not client.hexists(state, "init"):
        if client.set(lock, token, nx=True, ex=LOCK_SECONDS):
            try:
                if not client.hexists(state, "init"):
                    return restore(db, client, pool, now, memo_ttl)
                return None
            finally:
                # Only our own lock: compare-and-delete.
                client.eval(
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                    "return redis.call('DEL', KEYS[1]) end return 0",
                    1,
                    lock,
                    token,
                )
        if time.monotonic() > deadline:
            raise RebuildTimeout(f"pool {pool.name!r}: rotation rebuild did not finish")
        time.sleep(sleep)
    return None
