"""The polling fallback against the sandbox over HTTPS: watermark, loop guard, dedupe, lock."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from bridge.db import Database
from bridge.metrics import live
from bridge.salesforce import soql
from bridge.salesforce.changes import poll_changes
from bridge.salesforce.errors import SalesforceError
from bridge.salesforce.gateway import SalesforceGateway
from bridge.tenants.tables import Tenant
from bridge.triggers import versions
from bridge.triggers.dispatcher import Batch, Dispatcher
from bridge.triggers.intake import STREAM
from bridge.triggers.models import polling_lag
from bridge.triggers.polling import LOCK_PREFIX, Poller
from bridge.triggers.tables import PollState
from config.settings import Settings
from tests.conftest import with_sandbox
from workers.celery_app import create_celery_app
from workers.queues import DEFAULT_QUEUE, POLLING_QUEUE, backlog


@pytest.fixture(scope="module")
def human(sandbox: Any) -> str:
    """An active user who is not the integration user (changes made by people)."""
    sandbox.seed(users=4, seed=7)
    users = sandbox.salesforce().query("SELECT Id FROM User WHERE IsActive = true")["records"]
    return next(u["Id"] for u in users if u["Id"] != sandbox.integration_user_id)


@pytest.fixture
def gateway(sandbox: Any, settings: Settings) -> SalesforceGateway:
    gw = SalesforceGateway.from_settings(with_sandbox(settings, sandbox))
    yield gw
    gw.close()


@pytest.fixture
def tenant_id(db: Database) -> int:
    with db.session() as s:
        tenant = Tenant(name="acme")
        s.add(tenant)
        s.flush()
        return tenant.id


@pytest.fixture
def client(settings: Settings) -> redis.Redis:
    c = redis.Redis.from_url(settings.redis_url)
    yield c
    c.close()


def poller(db, client, gateway, **kw) -> Poller:
    kw.setdefault("lookback", timedelta(seconds=0))
    kw.setdefault("initial_lookback", timedelta(minutes=5))
    return Poller(db, client, gateway, integration_user_id=gateway.integration_user_id, **kw)


def drain(client: redis.Redis) -> list[str]:
    batches: list[Batch] = []
    dispatcher = Dispatcher(client, batches.append, consumer="test", linger=0)
    dispatcher.ensure_group()
    while dispatcher.step(block_ms=50):
        pass
    dispatcher.flush(force=True)
    return [item.id for b in batches for item in b.items]


def test_poll_accepts_changes_and_advances_the_watermark(
    sandbox, human, db, client, gateway, tenant_id
) -> None:
    p = poller(db, client, gateway)
    p.poll(tenant_id, "Contact")  # start the watermark
    drain(client)
    made = [sandbox.create("Contact", {"LastName": f"Poll{n}"}, as_user=human) for n in range(3)]
    outcome = p.poll(tenant_id, "Contact")
    assert outcome.error is None and outcome.accepted == 3
    assert sorted(drain(client)) == sorted(made)
    # Nothing new: the next poll accepts nothing and the watermark stays put.
    again = p.poll(tenant_id, "Contact")
    assert again.accepted == 0 and again.watermark == outcome.watermark
    with db.session() as s:
        state = s.get(PollState, (tenant_id, "Contact"))
        assert state.watermark_id == made[-1] and state.last_poll_time is not None
        assert state.next_poll_time == state.last_poll_time + p.interval


def test_loop_guard_processed_versions_and_deletes_are_skipped(
    sandbox, human, db, client, gateway, tenant_id
) -> None:
    p = poller(db, client, gateway, lookback=timedelta(minutes=5))
    ours = sandbox.create("Account", {"Name": "Written by the bridge"})  # integration user
    theirs = sandbox.create("Account", {"Name": "Written by a rep"}, as_user=human)
    seen = sandbox.create("Account", {"Name": "Already processed"}, as_user=human)
    gone = sandbox.create("Account", {"Name": "Deleted"}, as_user=human)
    sandbox.salesforce().Account.delete(gone)
    record = gateway.fetch("Account", [seen], ["Id", "SystemModstamp"])[0]
    versions.finish(client, tenant_id, claimant="test", done=[record], count_key="test:count")
    outcome = p.poll(tenant_id, "Account")
    accepted = drain(client)
    assert theirs in accepted and ours not in accepted and seen not in accepted
    assert gone not in accepted
    assert outcome.skipped_loop_guard >= 1 and outcome.skipped_already_processed >= 1
    assert outcome.deleted >= 1


def test_backlog_pages_by_2000(sandbox, human, db, client, gateway, tenant_id) -> None:
    # Seeded rows are written as the integration user: switch the loop guard off here.
    p = Poller(db, client, gateway, integration_user_id=None, lookback=timedelta(0))
    p.poll(tenant_id, "Lead")
    drain(client)
    sandbox.seed(leads=4500, seed=11)
    outcome = p.poll(tenant_id, "Lead")
    assert outcome.error is None
    assert outcome.queries == 3  # 2,000 + 2,000 + 500
    assert len(set(drain(client))) == 4500


def test_budget_stop_keeps_watermark_and_resumes(
    sandbox, human, db, client, gateway, tenant_id
) -> None:
    p = poller(db, client, gateway)
    p.poll(tenant_id, "Opportunity")
    drain(client)
    made = [
        sandbox.create("Opportunity", {"Name": f"O{n}", "StageName": "Prospecting",
                                       "CloseDate": "2027-01-01"}, as_user=human)
        for n in range(2)
    ]  # fmt: skip
    sandbox.set_api_limit(1000, used=1000)  # the org is out of API calls
    stopped = p.poll(tenant_id, "Opportunity")
    assert stopped.error and stopped.accepted == 0
    sandbox.set_api_limit(5_000_000, used=0)
    # The gateway holds off for a while after REQUEST_LIMIT_EXCEEDED; let that time pass.
    gateway.connection.usage.reset()
    resumed = p.poll(tenant_id, "Opportunity")
    assert resumed.error is None and sorted(drain(client)) == sorted(made)
    with db.session() as s:
        assert s.get(PollState, (tenant_id, "Opportunity")).last_error is None


def test_one_poll_per_object_at_a_time(db, client, gateway, tenant_id) -> None:
    p = poller(db, client, gateway)
    held = p.lock(tenant_id, "Lead")
    assert held.acquire()
    assert p.poll(tenant_id, "Lead").ran is False
    held.release()
    assert p.poll(tenant_id, "Lead").ran is True
    assert client.xlen(STREAM) >= 0


class PagedSource:
    """The gateway in 200-row pages, calling `after_page(n)` once page n has been handled."""

    def __init__(self, gateway: SalesforceGateway, after_page: Callable[[int], None]) -> None:
        self.gateway = gateway
        self.after_page = after_page

    def changed_since(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        pages = self.gateway.changed_since(*args, page_size=200, **kwargs)
        for n, page in enumerate(pages):
            yield page
            self.after_page(n)


def test_a_long_poll_renews_its_lock(sandbox, db, client, gateway, tenant_id) -> None:
    # Seeded rows are written as the integration user: switch the loop guard off here.
    other = Poller(db, client, gateway, integration_user_id=None, lookback=timedelta(0))
    other.poll(tenant_id, "Lead")
    drain(client)
    sandbox.seed(leads=1000, seed=23)
    overlapping: list[bool] = []
    renewed: list[bool] = []
    key = f"{LOCK_PREFIX}{tenant_id}:Lead"

    def short_lived(n: int) -> None:
        # Without renewal the lock would expire 5 s after each page: after the next page its
        # TTL must be back near the full 60 s (no sleeping, so no timing to go wrong).
        if n > 0:
            renewed.append(client.pttl(key) > 5_000)
        client.pexpire(key, 5_000)
        overlapping.append(other.poll(tenant_id, "Lead").ran)

    p = Poller(db, client, PagedSource(gateway, short_lived), integration_user_id=None,
               lookback=timedelta(0), lock_ttl=timedelta(seconds=60))  # fmt: skip
    outcome = p.poll(tenant_id, "Lead")
    assert outcome.error is None and outcome.queries >= 5
    assert renewed and all(renewed)  # renewed after every page
    assert overlapping and not any(overlapping)  # the renewed lock kept every other poll out
    assert len(set(drain(client))) == 1000
    assert not client.exists(f"{LOCK_PREFIX}{tenant_id}:Lead")  # released at the end


def test_a_poll_that_lost_its_lock_stops(sandbox, db, client, gateway, tenant_id) -> None:
    other = Poller(db, client, gateway, integration_user_id=None, lookback=timedelta(0))
    other.poll(tenant_id, "Lead")
    drain(client)
    sandbox.seed(leads=600, seed=29)
    key = f"{LOCK_PREFIX}{tenant_id}:Lead"
    marks: list[Any] = []

    def stored_watermark() -> Any:
        with db.session() as s:
            state = s.get(PollState, (tenant_id, "Lead"))
            return (state.watermark_ts, state.watermark_id)

    def taken_over(n: int) -> None:
        marks.append(stored_watermark())
        client.set(key, "another poll")  # ours expired and another poll took the lock

    p = Poller(db, client, PagedSource(gateway, taken_over), integration_user_id=None,
               lookback=timedelta(0))  # fmt: skip
    outcome = p.poll(tenant_id, "Lead")
    assert outcome.error and outcome.error.startswith("PollLockLost")
    assert outcome.accepted == 200 and len(drain(client)) == 200  # the first page only
    assert stored_watermark() == marks[0] == outcome.watermark  # not past the first page
    assert client.get(key) == b"another poll"  # the other poll's lock is left alone
    with db.session() as s:
        assert s.get(PollState, (tenant_id, "Lead")).last_error == outcome.error
    client.delete(key)
    resumed = other.poll(tenant_id, "Lead")
    assert resumed.error is None and resumed.accepted == 400


def test_a_poll_that_crashes_is_not_reported_caught_up(
    sandbox, db, client, gateway, tenant_id
) -> None:
    """A failure outside Salesforce (here Redis, mid-poll) fails the task, and the state
    carries the error, so the polling lag does not read as a poll that caught up."""
    Poller(db, client, gateway, integration_user_id=None, lookback=timedelta(0)).poll(
        tenant_id, "Lead"
    )
    drain(client)
    sandbox.seed(leads=300, seed=31)

    def redis_gone(n: int) -> None:
        raise redis.ConnectionError("Redis went away")

    p = Poller(db, client, PagedSource(gateway, redis_gone), integration_user_id=None,
               lookback=timedelta(0))  # fmt: skip
    with pytest.raises(redis.ConnectionError):
        p.poll(tenant_id, "Lead")
    with db.session() as s:
        state = s.get(PollState, (tenant_id, "Lead"))
        assert state.last_error == "ConnectionError: Redis went away"
        # The lag counts from the watermark (an upper bound), not from this poll's start.
        now = state.last_poll_time + timedelta(seconds=30)
        expected = round((now - state.watermark_ts).total_seconds(), 3)
        assert polling_lag(state, now) == expected >= 30


class SlowOverWideRanges:
    """The sandbox through the gateway, except that a change query whose SystemModstamp range
    spans more than `limit` (open-ended: up to now) fails with QUERY_TIMEOUT, like a query
    over too many rows in a real org; or, with `busy`, the next `busy` queries do."""

    def __init__(self, gateway: SalesforceGateway, limit: timedelta, busy: int = 0) -> None:
        self.gateway = gateway
        self.limit = limit
        self.busy = busy
        self.timeouts = 0
        self.answered: list[timedelta] = []

    def query(self, query: str, include_deleted: bool) -> Any:
        lower = re.search(r"SystemModstamp >=? (\S+)", query)
        upper = re.search(r"SystemModstamp < (\S+)", query)
        assert lower, query
        end = soql.parse_datetime(upper.group(1)) if upper else datetime.now(UTC)
        span = end - soql.parse_datetime(lower.group(1))
        if span > self.limit or self.timeouts < self.busy:
            self.timeouts += 1
            raise SalesforceError("query timed out", error_code="QUERY_TIMEOUT", status=400)
        self.answered.append(span)
        return self.gateway.query_all_iter(query, include_deleted, operation="changed_since")

    def changed_since(self, sobject: str, fields: Any, ts: Any, id_: Any = None,
                      **kwargs: Any) -> Any:  # fmt: skip
        return poll_changes(self.query, sobject, fields, ts, id_, page_size=10, min_page_size=10,
                            **kwargs)  # fmt: skip


def test_query_timeout_shrinks_the_window_and_the_watermark_follows_rows_read(
    sandbox, human, db, client, gateway, tenant_id
) -> None:
    made = [sandbox.create("Contact", {"LastName": f"Win{n}"}, as_user=human) for n in range(25)]
    source = SlowOverWideRanges(gateway, limit=timedelta(minutes=10))
    p = Poller(db, client, source, integration_user_id=gateway.integration_user_id,
               lookback=timedelta(0), initial_lookback=timedelta(hours=1))  # fmt: skip
    marks: list[Any] = []
    real_advance = p._advance

    def advance(outcome: Any, page: Any) -> None:
        real_advance(outcome, page)
        if page.records:  # the watermark is this page's last row, never beyond
            last = page.records[-1]
            assert (page.watermark.ts, page.watermark.id) == (
                soql.parse_datetime(last["SystemModstamp"]), last["Id"])  # fmt: skip
        marks.append(outcome.watermark)

    p._advance = advance  # type: ignore[method-assign]
    outcome = p.poll(tenant_id, "Contact")
    assert outcome.error is None
    assert source.timeouts >= 3  # 60 min, 30 min, 15 min
    assert all(span <= timedelta(minutes=10) for span in source.answered)
    assert set(made) <= set(drain(client))
    assert marks == sorted(marks, key=lambda m: (m[0], m[1] or ""))
    with db.session() as s:
        state = s.get(PollState, (tenant_id, "Contact"))
        assert (state.watermark_ts, state.watermark_id) == outcome.watermark
    assert outcome.watermark[1] == max(made)  # every row read, up to the newest


def test_windows_widen_again_once_queries_answer(
    sandbox, human, db, client, gateway, tenant_id
) -> None:
    made = [sandbox.create("Contact", {"LastName": f"Wide{n}"}, as_user=human) for n in range(3)]
    source = SlowOverWideRanges(gateway, limit=timedelta(days=1), busy=3)  # a passing spike
    p = Poller(db, client, source, integration_user_id=gateway.integration_user_id,
               lookback=timedelta(0), initial_lookback=timedelta(hours=1))  # fmt: skip
    outcome = p.poll(tenant_id, "Contact")
    assert outcome.error is None and source.timeouts == 3
    minutes = [round(span.total_seconds() / 60, 1) for span in source.answered]
    # 60 -> 30 -> 15 -> 7.5 min timed out down; then each drained window doubles, and the
    # window reaching now becomes the open-ended query again (under 60 min).
    assert minutes[:3] == [7.5, 15.0, 30.0] and minutes[3] < 60, minutes
    assert set(made) <= set(drain(client))
    assert outcome.watermark[1] == max(made)


def test_poll_tasks_have_their_own_queue(settings: Settings, client: redis.Redis) -> None:
    """A batch backlog in the shared queue must not hold polls back until they expire."""
    app = create_celery_app(settings)
    try:
        # A worker started without -Q (as `bridge up` starts it) consumes both queues.
        assert set(app.amqp.queues) == {DEFAULT_QUEUE, POLLING_QUEUE}
        app.send_task("triggers.process_batch", args=[{}])
        app.send_task("triggers.poll_all")
        app.send_task("triggers.poll_object", args=[1, "Lead"], expires=120)
    finally:
        app.close()
    assert backlog(client, POLLING_QUEUE)["queued"] == 2
    assert backlog(client, DEFAULT_QUEUE)["queued"] == 1
    # What the metrics, the dashboard and the backlog report show: every queue.
    assert live.queue_depth(client)["queued"] == 3
