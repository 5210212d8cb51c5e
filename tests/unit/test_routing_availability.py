"""Pure parts of routing: working hours and time zones, out of office, cap periods, the
active-users cache, the request contract and the pick's KEYS/ARGV layout."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bridge.routing.availability import ActiveUsers, periods, unavailable_reason, working_at
from bridge.routing.models import AssignRequest, MemberSpec, PoolSpec
from bridge.routing.pools import Member, parse_schedule
from bridge.routing.rotation import (
    SHA,
    Candidate,
    Memo,
    PickArgs,
    encode_call,
    group_of,
    script_call,
)
from bridge.salesforce.ids import to_18

NY = zoneinfo.ZoneInfo("America/New_York")
USER = to_18("005000000000001")


def member(schedule=None, away=(), zone=NY) -> Member:
    return Member(USER, 100, (None, None, None), zone, schedule, tuple(away))


def test_overnight_and_full_day_ranges() -> None:
    schedule = parse_schedule({"mon": ["22:00-06:00"], "sun": ["00:00-24:00", "23:00-01:00"]})
    assert schedule == {
        0: ((0, 60), (1320, 1440)),  # Monday: Sunday's spill, then its own evening
        1: ((0, 360),),  # Tuesday: Monday's night shift continues
        6: ((0, 1440), (1380, 1440)),
    }
    assert parse_schedule(None) is None


def test_working_hours_follow_the_members_time_zone_and_dst() -> None:
    nine_to_five = member(parse_schedule({"mon": ["09:00-17:00"]}))
    # 2026-01-05 is a Monday; New York is UTC-5 in January, UTC-4 in July.
    assert working_at(nine_to_five, datetime(2026, 1, 5, 14, 0, tzinfo=UTC))
    assert not working_at(nine_to_five, datetime(2026, 1, 5, 13, 59, tzinfo=UTC))
    assert not working_at(nine_to_five, datetime(2026, 1, 5, 22, 0, tzinfo=UTC))  # 17:00 local
    assert working_at(nine_to_five, datetime(2026, 7, 6, 13, 0, tzinfo=UTC))
    assert not working_at(nine_to_five, datetime(2026, 1, 6, 15, 0, tzinfo=UTC))  # Tuesday
    assert working_at(member(None), datetime(2026, 1, 6, 3, 0, tzinfo=UTC))


def test_unavailable_reasons_in_order() -> None:
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    away = [(now - timedelta(hours=1), now + timedelta(hours=1))]
    assert unavailable_reason(member(), now, frozenset()) == "inactive"
    assert unavailable_reason(member(), now, None) is None
    assert unavailable_reason(member(away=away), now, frozenset({USER})) == "out_of_office"
    # Out-of-office periods are [start, end): back exactly at the end.
    assert unavailable_reason(member(away=away), away[0][1], None) is None
    weekend = member(parse_schedule({"sat": ["09:00-17:00"]}))
    assert unavailable_reason(weekend, now, None) == "outside_working_hours"


def test_cap_periods_are_local_labels() -> None:
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    moment = datetime(2026, 1, 31, 20, 30, 15, tzinfo=UTC)  # 05:30 on 1 February in Tokyo
    assert periods(moment, tokyo) == ("h:2026020105", "d:20260201", "m:202602")
    assert periods(moment, zoneinfo.ZoneInfo("UTC")) == ("h:2026013120", "d:20260131", "m:202601")


def test_active_users_cache_refresh_refusal_and_stale_fallback() -> None:
    now = [0.0]
    calls: list[int] = []
    lists = [["a", "b"], ["a"], RuntimeError("salesforce down")]

    def fetch() -> list[str]:
        calls.append(1)
        item = lists[min(len(calls) - 1, len(lists) - 1)]
        if isinstance(item, Exception):
            raise item
        return item

    cache = ActiveUsers(fetch, ttl=60, clock=lambda: now[0])
    assert cache.ids() == {"a", "b"}
    now[0] = 30
    assert cache.ids() == {"a", "b"} and len(calls) == 1
    cache.refused("b")  # Salesforce said b is inactive: gone now, list re-read next time
    assert cache.ids() == {"a"} and len(calls) == 2
    now[0] = 200
    assert cache.ids() == {"a"} and len(calls) == 3  # outage: the last list is kept
    with pytest.raises(RuntimeError):
        ActiveUsers(lambda: (_ for _ in ()).throw(RuntimeError("x"))).ids()


def test_assign_request_contract() -> None:
    lead15 = "00Q000000000001"
    body = AssignRequest.model_validate({"object": "lead", "sf_id": lead15, "pool": "p"})
    assert body.sf_id == to_18(lead15) and body.sobject == "Lead" and body.exclude_inactive
    for bad in (
        {"object": "account", "sf_id": lead15, "pool": "p"},
        {"object": "lead", "sf_id": "00Q00000000000!", "pool": "p"},
        {"object": "lead", "sf_id": lead15, "pool": "p", "extra": 1},
        {"object": "lead", "sf_id": lead15, "pool": "p", "reset_rules": {"reason": ""}},
        {"object": "lead", "sf_id": lead15, "pool": "p",
         "reset_rules": {"reason": "x", "place_user_at_top": lead15}},
        {"object": "lead", "sf_id": lead15, "pool": "has space"},
    ):  # fmt: skip
        with pytest.raises(ValidationError):
            AssignRequest.model_validate(bad)


def test_member_and_pool_specs() -> None:
    spec = MemberSpec.model_validate({"user_id": USER[:15], "weight": "0.25"})
    assert spec.user_id == USER and spec.model_dump(mode="json")["weight"] == 0.25
    for bad in ({"weight": 0}, {"weight": 1001}, {"weight": 0.001}, {"time_zone": "Nowhere/X"},
                {"working_hours": {"mon": ["17:00-17:00"]}},
                {"working_hours": {"mon": ["09:00-24:30"]}},
                {"working_hours": {"funday": ["09:00-17:00"]}},
                {"caps": {"hour": 0}}):  # fmt: skip
        with pytest.raises(ValidationError):
            MemberSpec.model_validate({"user_id": USER, **bad})
    with pytest.raises(ValidationError):
        PoolSpec.model_validate({"name": "p", "members": [{"user_id": USER}] * 2})


def test_memo_round_trip_and_script_layout() -> None:
    memo = Memo(USER, 42, datetime(2026, 1, 5, 15, 0, tzinfo=UTC), 3)
    assert Memo.decode(memo.encode().encode()) == memo
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    candidates = [
        Candidate(to_18(f"00500000000000{n}"), 100 * n, (None, 5, None), periods(now, NY))
        for n in range(1, 4)
    ]
    args = PickArgs(1, "p", "00Q", now, candidates, (None, None, 10), periods(now, NY), 60,
                    idempotency_key="k")  # fmt: skip
    keys, argv = script_call(args)
    # pool part (state, 3 pool caps, 3 per member; ttl, pool caps, count, 5 per member), then
    # the pick's own two keys and five arguments
    assert len(keys) == 4 + 3 * 3 + 2 and len(argv) == 5 + 5 * 3 + 5
    assert all(k.startswith("bridge:routing:{1:p}:") for k in keys)  # one cluster slot
    assert argv[:5] == ["60", "0", "0", "10", "3"]
    assert argv[5:10] == [candidates[0].user_id, "100", "0", "5", "0"]
    assert argv[-5:] == [now.isoformat(), "1", "0", "0", ""]
    # The wire form is exactly RESP EVALSHA of those keys and arguments, many picks per call.
    other = PickArgs(1, "p", "00R", now, candidates, (None, None, 10), periods(now, NY), 60)
    wire = encode_call(group_of(args), [args, other])
    _, argv2 = script_call(other)
    keys2 = keys[:-2] + keys[-2:] + script_call(other)[0][-2:]
    parts = ["EVALSHA", SHA, str(len(keys2)), *keys2, *argv, *argv2[-5:]]
    expected = b"*%d\r\n" % len(parts) + b"".join(
        b"$%d\r\n%s\r\n" % (len(x.encode()), x.encode()) for x in parts
    )
    assert wire == expected
