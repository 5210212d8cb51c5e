"""The processed-version marks against a real Redis: they only move forward."""

from __future__ import annotations

import redis

from bridge.triggers import versions

OLD = {"Id": "00Q000000000001AAA", "SystemModstamp": "2026-11-25T08:00:00.000+0000"}
NEW = {"Id": "00Q000000000001AAA", "SystemModstamp": "2026-11-25T08:00:05.000+0000"}


def _finish(client: redis.Redis, record: dict[str, str], claimant: str) -> None:
    versions.finish(client, 1, claimant=claimant, done=[record], count_key="test:count")


def test_a_batch_finishing_late_does_not_put_an_older_version_back(client: redis.Redis) -> None:
    for record, claimant in ((OLD, "a"), (NEW, "b")):
        assert versions.claim(client, 1, [record], claimant=claimant, ttl_seconds=60).mine
    _finish(client, NEW, "b")  # the newer version's batch ends first
    _finish(client, OLD, "a")  # then the older one's
    # A lookback reading the record at its newer version finds it processed.
    again = versions.claim(client, 1, [NEW], claimant="c", ttl_seconds=60)
    assert again.processed == [NEW] and not again.mine
    # The older version is covered by the newer one, and a still newer one is new work.
    assert versions.claim(client, 1, [OLD], claimant="c", ttl_seconds=60).processed == [OLD]
    newest = {**NEW, "SystemModstamp": "2026-11-25T08:00:09.000+0000"}
    assert versions.claim(client, 1, [newest], claimant="c", ttl_seconds=60).mine == [newest]


def test_the_polls_pre_filter_uses_the_claiming_rule(client: redis.Redis) -> None:
    """`unprocessed` (the poll's filter before batching) agrees with `claim`: an older version
    is covered by a newer mark, the marked one too, a newer one and an unmarked record are not."""
    assert versions.claim(client, 1, [NEW], claimant="a", ttl_seconds=60).mine
    _finish(client, NEW, "a")
    newest = {**NEW, "SystemModstamp": "2026-11-25T08:00:09.000+0000"}
    other = {"Id": "00Q000000000002AAA", "SystemModstamp": OLD["SystemModstamp"]}
    assert versions.unprocessed(client, 1, [OLD, NEW, newest, other]) == [newest, other]
    assert versions.unprocessed(client, 1, []) == []
