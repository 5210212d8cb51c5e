"""Sforce-Limit-Info parsing and the usage counters (no I/O)."""

from __future__ import annotations

import pytest

from bridge.salesforce.usage import ApiUsage, LimitInfo, Quota, parse_limit_info


def test_plain_api_usage() -> None:
    assert parse_limit_info("api-usage=18/5000") == LimitInfo(api_usage=Quota(18, 5000))


def test_bursts_and_per_app() -> None:
    info = parse_limit_info(
        "api-usage=25/5000; api-bursts=1/750; per-app-api-usage=17/250(appName=sample-app)"
    )
    assert info is not None
    assert info.api_usage == Quota(25, 5000)
    assert info.api_bursts == Quota(1, 750)
    assert info.per_app == {"sample-app": Quota(17, 250)}


@pytest.mark.parametrize(
    "header",
    [
        "api-usage=25/5000;per-app-api-usage=17/250(appName=sample-app)",
        " per-app-api-usage = 17 / 250 ( appName=sample-app ) , api-usage = 25/5000 ",
        "API-Usage=25/5000; per-app-api-usage=17/250(appName=sample-app); future-thing=x",
    ],
)
def test_tolerant_of_order_spacing_case_and_unknown_parts(header: str) -> None:
    info = parse_limit_info(header)
    assert info is not None
    assert info.api_usage == Quota(25, 5000)
    assert info.per_app["sample-app"] == Quota(17, 250)


@pytest.mark.parametrize("header", [None, "", "garbage", "api-usage=abc/def", "api-usage=5"])
def test_nothing_understood_gives_none(header: str | None) -> None:
    assert parse_limit_info(header) is None


def test_share_and_zero_total() -> None:
    assert Quota(4000, 5000).share == 0.8
    assert Quota(0, 0).share == 1.0  # no budget at all counts as exhausted


def test_usage_counts_per_operation_and_keeps_latest_header() -> None:
    now = [100.0]
    usage = ApiUsage(clock=lambda: now[0])
    usage.record_call("fetch")
    usage.record_call("fetch")
    usage.record_call("update")
    usage.record_auth_request()
    usage.observe_header("api-usage=10/100")
    usage.observe_header("api-bursts=2/750")  # keeps the last api-usage reading
    assert usage.calls_by_operation == {"fetch": 2, "update": 1}
    assert usage.total_calls == 3
    assert usage.auth_requests == 1
    assert usage.share_used() == 0.1
    now[0] += 301
    assert usage.share_used(max_age=300) is None  # stale readings do not block calls
    snap = usage.snapshot()
    assert snap["api_used"] == 10 and snap["api_limit"] == 100
    assert snap["api_bursts"] == {"used": 2, "total": 750}
    assert snap["calls_by_operation"] == {"fetch": 2, "update": 1}
