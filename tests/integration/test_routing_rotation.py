"""The atomic pick on a real Redis and SQL: order, fairness, concurrency, skips, replays,
reset rules, and the rebuild from route logs after FLUSHDB."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.routing.errors import IdempotencyKeyReused, NoMemberAvailable, NotAMember
from bridge.routing.service import Reset, RoutingService
from tests.integration.test_routing_fixtures import (
    lead,
    make_pool,
    make_tenant,
    reference,
    service,
    user,
)

A, B, C, D, E = (user(n) for n in range(1, 6))


@pytest.fixture
def tenant(db: Database) -> int:
    return make_tenant(db)


def assign(svc: RoutingService, tenant: int, pool: str, n: int, **kw) -> tuple[str, int, bool]:
    """A pick plus its route log, as the endpoint and the pipeline do it."""
    pick = svc.pick(tenant, pool, lead(n), **kw)
    if not pick.cached:
        with svc.db.session() as session:
            svc.record(session, tenant, "Lead", pick, prev_owner=None, reason="round_robin",
                       idempotency_key=kw.get("idempotency_key"))  # fmt: skip
    return pick.assigned_to, pick.sequence, pick.cached


def test_weights_5_1_1_interleave_and_never_drift(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A, "weight": 5}, {"user_id": B}, {"user_id": C}])
    svc = service(db, client)
    owners = [svc.pick(tenant, "p", lead(n)).assigned_to for n in range(700)]
    assert owners[:7] == [A, A, B, A, C, A, A]
    assert [(A, B, C).index(o) for o in owners] == reference([5, 1, 1], 700)
    counts: Counter[str] = Counter()
    for n, owner in enumerate(owners, start=1):
        counts[owner] += 1
        for who, weight in ((A, 5), (B, 1), (C, 1)):
            assert abs(counts[who] - n * weight / 7) < 1  # never a whole pick off its share
    assert counts == {A: 500, B: 100, C: 100}


def test_fractional_weights(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A, "weight": "1.5"}, {"user_id": B, "weight": 0.5}])
    svc = service(db, client)
    counts = Counter(svc.pick(tenant, "p", lead(n)).assigned_to for n in range(400))
    assert counts == {A: 300, B: 100}


def test_100_concurrent_picks_take_100_distinct_slots(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A, "weight": 3}, {"user_id": B, "weight": 2}])
    svc = service(db, client)
    with ThreadPoolExecutor(32) as pool:
        picks = list(pool.map(lambda n: svc.pick(tenant, "p", lead(n)), range(100)))
    assert sorted(p.sequence for p in picks) == list(range(1, 101))
    assert Counter(p.assigned_to for p in picks) == {A: 60, B: 40}
    # In sequence order the owners are exactly the smooth rotation.
    ordered = [p.assigned_to for p in sorted(picks, key=lambda p: p.sequence)]
    assert [(A, B).index(o) for o in ordered] == reference([3, 2], 100)


def test_same_record_returns_original_without_advancing(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A}, {"user_id": B}])
    svc = service(db, client)
    assert assign(svc, tenant, "p", 1) == (A, 1, False)
    assert assign(svc, tenant, "p", 1) == (A, 1, True)
    assert assign(svc, tenant, "p", 2) == (B, 2, False)
    # The same Idempotency-Key replays for its own record, and is refused for another one
    # (without advancing the rotation or touching that record's own assignment).
    first = svc.pick(tenant, "p", lead(3), idempotency_key="k-1")
    again = svc.pick(tenant, "p", lead(3), idempotency_key="k-1")
    assert (again.assigned_to, again.sequence, again.cached) == (first.assigned_to, 3, True)
    with pytest.raises(IdempotencyKeyReused):
        svc.pick(tenant, "p", lead(4), idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):  # a retry's replay refuses it before any work
        svc.replay(tenant, "Lead", lead(4), "p", "k-1")
    assert svc.pick(tenant, "p", lead(5)).sequence == 4
    # A key first seen on a record that already had its pick is tied to that record too.
    assert svc.pick(tenant, "p", lead(5), idempotency_key="k-2").sequence == 4
    with pytest.raises(IdempotencyKeyReused):
        svc.pick(tenant, "p", lead(1), idempotency_key="k-2")


def test_inactive_away_outside_hours_and_capped_are_never_picked(db, client, tenant) -> None:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).strftime("%a").lower()
    make_pool(
        db,
        tenant,
        "p",
        [
            {"user_id": A},  # inactive in Salesforce
            {"user_id": B, "out_of_office": [
                {"start": (now - timedelta(hours=1)).isoformat(),
                 "end": (now + timedelta(hours=1)).isoformat()}]},
            {"user_id": C, "working_hours": {tomorrow: ["00:00-23:59"]}},
            {"user_id": D, "caps": {"hour": 3}},
            {"user_id": E},
        ],
    )  # fmt: skip
    svc = service(db, client, active=[B, C, D, E])
    counts = Counter(svc.pick(tenant, "p", lead(n)).assigned_to for n in range(30))
    assert counts == {D: 3, E: 27}
    assert svc.pick(tenant, "p", lead(99)).pool_size == 1  # only E is left
    # Without E nobody is left, and the answer says who was out and why.
    make_pool(db, tenant, "q", [{"user_id": A}, {"user_id": D, "caps": {"day": 1}}])
    svc.pick(tenant, "q", lead(200))
    with pytest.raises(NoMemberAvailable) as caught:
        svc.pick(tenant, "q", lead(201))
    assert caught.value.reason == "nobody"
    assert caught.value.skipped == {"inactive": 1, "capped": 1}
    # exclude_inactive=False ignores the Salesforce list (A becomes eligible).
    assert svc.pick(tenant, "q", lead(202), exclude_inactive=False).assigned_to == A


def test_paused_empty_and_pool_caps(db, client, tenant) -> None:
    make_pool(db, tenant, "paused", [{"user_id": A}], paused=True)
    make_pool(db, tenant, "empty", [])
    make_pool(db, tenant, "capped", [{"user_id": A}, {"user_id": B}], caps={"hour": 2})
    svc = service(db, client)
    for pool, reason in (("paused", "paused"), ("empty", "empty")):
        with pytest.raises(NoMemberAvailable) as caught:
            svc.pick(tenant, pool, lead(1))
        assert caught.value.reason == reason
    svc.pick(tenant, "capped", lead(1))
    svc.pick(tenant, "capped", lead(2))
    with pytest.raises(NoMemberAvailable) as caught:
        svc.pick(tenant, "capped", lead(3))
    assert caught.value.reason == "pool_capped"
    assert svc.pick(tenant, "capped", lead(1)).cached  # replays still answer


def test_reset_rules(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A, "weight": 2}, {"user_id": B}, {"user_id": C}])
    svc = service(db, client)
    names = (A, B, C)
    expected = [names[i] for i in reference([2, 1, 1], 6)]
    assert [svc.pick(tenant, "p", lead(n)).assigned_to for n in range(3)] == expected[:3]
    weights = svc.rotation.weights(tenant, "p")
    # B goes to the top for this record, outside the rotation: nobody's turn moves.
    top = svc.pick(tenant, "p", lead(10), reset=Reset("bad_fit", place_user_at_top=B))
    assert (top.assigned_to, top.sequence) == (B, 4)
    assert svc.rotation.weights(tenant, "p") == weights
    assert [svc.pick(tenant, "p", lead(n)).assigned_to for n in (11, 12, 13)] == expected[3:]
    with pytest.raises(NotAMember):
        svc.pick(tenant, "p", lead(14), reset=Reset("x", place_user_at_top=D))
    # A reset without a user restarts the rotation from its beginning.
    restarted = svc.pick(tenant, "p", lead(15), reset=Reset("user_request"))
    rest = [svc.pick(tenant, "p", lead(n)).assigned_to for n in range(16, 21)]
    assert [restarted.assigned_to, *rest] == expected


def test_rotation_rebuilt_from_route_logs_after_flush(db, client, tenant) -> None:
    members = [{"user_id": A, "weight": 5}, {"user_id": B}, {"user_id": C, "caps": {"day": 4}}]
    make_pool(db, tenant, "p", members)
    svc = service(db, client)
    before = [assign(svc, tenant, "p", n) for n in range(37)]
    weights = svc.rotation.weights(tenant, "p")
    assert Counter(o for o, _, _ in before)[C] == 4  # C reached the day cap
    client.flushdb()
    assert not svc.rotation.initialized(tenant, "p")
    # The next pick rebuilds: sequence, current weights, cap counters and replays come back.
    assert assign(svc, tenant, "p", 5) == (before[5][0], before[5][1], True)
    assert svc.rotation.sequence(tenant, "p") == 37
    assert svc.rotation.weights(tenant, "p") == weights
    after = [assign(svc, tenant, "p", n) for n in range(37, 60)]
    assert [s for _, s, _ in after] == list(range(38, 61))
    assert C not in {o for o, _, _ in after}  # still capped today
    # Idempotency-Key replays come back tied to their record.
    keyed = assign(svc, tenant, "p", 60, idempotency_key="k-60")
    client.flushdb()
    assert assign(svc, tenant, "p", 60, idempotency_key="k-60") == (keyed[0], keyed[1], True)
    with pytest.raises(IdempotencyKeyReused):
        svc.pick(tenant, "p", lead(61), idempotency_key="k-60")
    # The same continuation as a pool that never lost its state (C capped: A/B at 5/1).
    control = reference([500, 100], 23, current=[weights[A], weights[B]])  # hundredths
    assert [o for o, _, _ in after] == [(A, B)[i] for i in control]
    with db.session() as session:
        logged = session.query(RouteLog).filter_by(pool="p", action="assign").count()
    assert logged == 61


def test_new_pool_starts_at_zero_and_deleted_state_continues(db, client, tenant) -> None:
    make_pool(db, tenant, "p", [{"user_id": A}, {"user_id": B}])
    svc = service(db, client)
    assert assign(svc, tenant, "p", 1)[1] == 1
    svc.rotation.forget(tenant, "p")
    assert assign(svc, tenant, "p", 2) == (B, 2, False)
