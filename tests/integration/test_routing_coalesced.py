"""Coalesced picks on a real Redis: the asyncio path (one script call per loop turn) and the
threaded path (concurrent sync picks sharing round trips) keep every guarantee of the pick."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis
import redis.asyncio

from bridge.db import Database
from bridge.routing.errors import NoMemberAvailable
from bridge.routing.pick_batcher import ThreadCoalescer
from bridge.routing.rotation import SHA
from tests.integration.test_routing_fixtures import (
    lead,
    make_pool,
    make_tenant,
    reference,
    service,
    user,
)

A, B, C = (user(n) for n in range(1, 4))


@pytest.fixture
def tenant(db: Database) -> int:
    return make_tenant(db)


def test_100_concurrent_async_picks_take_100_slots_in_rotation(db, client, redis_url, tenant):
    make_pool(db, tenant, "p", [{"user_id": A, "weight": 3}, {"user_id": B, "weight": 2}])
    make_pool(db, tenant, "q", [{"user_id": C}])

    async def run() -> tuple[list, list, list]:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        svc = service(db, client, aclient=aclient)
        try:
            cold = await asyncio.gather(*(svc.apick(tenant, "p", lead(n)) for n in range(100)))
            # Warm now: two pools queued in the same loop turns, one call per pool per flush.
            picks = await asyncio.gather(
                *(svc.apick(tenant, "p", lead(n)) for n in range(200, 300)),
                *(svc.apick(tenant, "q", lead(n)) for n in range(100, 120)),
            )
            again = await asyncio.gather(*(svc.apick(tenant, "p", lead(n)) for n in range(10)))
            client.flushdb()  # the state is lost: the next pick rebuilds it from route logs
            rebuilt = await asyncio.gather(svc.apick(tenant, "p", lead(500)))
        finally:
            await aclient.aclose()
        return list(cold), list(picks), list(again), list(rebuilt)

    cold, picks, again, rebuilt = asyncio.run(run())
    # 100 concurrent first picks of a new pool (all wait for its state, then pick).
    assert sorted(x.sequence for x in cold) == list(range(1, 101))
    assert Counter(x.assigned_to for x in cold) == {A: 60, B: 40}
    ordered = [x.assigned_to for x in sorted(cold, key=lambda x: x.sequence)]
    assert [(A, B).index(o) for o in ordered] == reference([3, 2], 100)
    assert [x.record_id for x in cold] == [lead(n) for n in range(100)]
    # Warm, queue order is pick order within a pool; the split stays exact.
    p, q = picks[:100], picks[100:]
    assert [x.sequence for x in p] == list(range(101, 201))
    assert sorted(x.sequence for x in q) == list(range(1, 21))  # q was cold: rebuilt first
    assert Counter(x.assigned_to for x in p) == {A: 60, B: 40}
    # Replays answer with the original owner and sequence, without advancing.
    assert all(x.cached for x in again)
    assert [(x.assigned_to, x.sequence) for x in again] == [
        (x.assigned_to, x.sequence) for x in cold[:10]
    ]
    # No route logs were written here, so the rebuilt pool starts again at 1.
    assert rebuilt[0].sequence == 1 and not rebuilt[0].cached


def test_async_pick_survives_script_flush_and_reports_nobody(db, client, redis_url, tenant):
    make_pool(db, tenant, "p", [{"user_id": A, "caps": {"day": 1}}])

    async def run() -> tuple:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        svc = service(db, client, aclient=aclient)
        try:
            first = await svc.apick(tenant, "p", lead(1))
            client.script_flush()
            with pytest.raises(NoMemberAvailable) as caught:
                await svc.apick(tenant, "p", lead(2))
            return first, caught.value
        finally:
            await aclient.aclose()

    first, refused = asyncio.run(run())
    assert first.assigned_to == A
    assert refused.reason == "nobody" and refused.skipped == {"capped": 1}
    assert client.script_exists(SHA)[0]  # loaded again after SCRIPT FLUSH


def test_threads_share_round_trips_and_keep_distinct_slots(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A, "weight": 5}, {"user_id": B}, {"user_id": C}])
    svc = service(db, client)
    calls = []
    flush = svc.rotation._flush

    def counting(batch):
        calls.append(len(batch))
        return flush(batch)

    svc.rotation._coalescer._flush = counting
    svc.pick(tenant, "p", lead(0))  # rebuild + warm caches
    with ThreadPoolExecutor(32) as pool:
        picks = list(pool.map(lambda n: svc.pick(tenant, "p", lead(n)), range(1, 301)))
    assert sorted(p.sequence for p in picks) == list(range(2, 302))
    assert Counter(p.assigned_to for p in [svc.pick(tenant, "p", lead(0)), *picks]) == {
        A: 215,
        B: 43,
        C: 43,
    }
    # 301 picks, the first one twice (it found no state and rebuilt it), one replay
    assert sum(calls) == 303 and len(calls) < 300  # some picks shared a call


def test_thread_coalescer_hands_results_errors_and_leadership() -> None:
    gate = threading.Event()
    seen: list[list[int]] = []

    def flush(items: list[int]) -> list[int | BaseException]:
        if not seen:
            gate.wait(5)  # hold the first flush so the others queue behind it
        seen.append(items)
        return [ValueError(i) if i % 7 == 0 else i * 2 for i in items]

    co: ThreadCoalescer[int, int] = ThreadCoalescer(flush, max_batch=10)
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            results[i] = co.submit(i)
        except ValueError as exc:
            results[i] = exc

    first = threading.Thread(target=call, args=(1,))
    first.start()
    while not co._busy:
        pass
    others = [threading.Thread(target=call, args=(i,)) for i in range(2, 40)]
    for t in others:
        t.start()
    while len(co._queue) < 38:
        threading.Event().wait(0.001)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert seen[0] == [1] and all(len(b) <= 10 for b in seen)
    assert sorted(i for b in seen for i in b) == list(range(1, 40))
    assert len(seen) == 1 + 4  # 38 queued items in batches of at most 10
    for i in range(1, 40):
        if i % 7 == 0:
            assert isinstance(results[i], ValueError)
        else:
            assert results[i] == i * 2
    assert not co._busy and not co._queue


def test_out_of_office_ending_mid_minute_is_seen_at_once(db, client, tenant) -> None:
    minute = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    back = minute + timedelta(seconds=30)
    away = [{"start": (minute - timedelta(hours=1)).isoformat(), "end": back.isoformat()}]
    make_pool(db, tenant, "p", [{"user_id": A, "out_of_office": away}, {"user_id": B}])
    now = [minute + timedelta(seconds=10)]
    svc = service(db, client, clock=lambda: now[0])
    assert {svc.pick(tenant, "p", lead(n)).assigned_to for n in range(4)} == {B}
    now[0] = minute + timedelta(seconds=40)  # same minute, A is back
    assert {svc.pick(tenant, "p", lead(n)).assigned_to for n in range(4, 8)} == {A, B}
