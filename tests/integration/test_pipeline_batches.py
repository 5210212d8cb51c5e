"""A dispatched batch through the pipeline against the sandbox: once per record version."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from typing import Any

import pytest
import redis

from bridge.pipeline import CLAIM_TTL_SECONDS, BatchContext, Pipeline, processed_count
from bridge.salesforce.gateway import SalesforceGateway
from bridge.triggers.dispatcher import Batch, BatchItem
from config.settings import Settings
from tests.conftest import with_sandbox


@pytest.fixture
def gateway(sandbox: Any, settings: Settings) -> SalesforceGateway:
    gw = SalesforceGateway.from_settings(with_sandbox(settings, sandbox))
    yield gw
    gw.close()


def batch(sobject: str, ids: list[str], source: str = "webhook") -> Batch:
    event = "after_insert" if source == "webhook" else "poll"
    return Batch(1, sobject, [BatchItem(i, f"rid-{source}", source, event) for i in ids])


def human_leads(sandbox: Any, *names: str) -> list[str]:
    """Leads a rep created (the loop guard lets them through)."""
    sandbox.seed(users=3, seed=3)
    users = sandbox.salesforce().query("SELECT Id FROM User WHERE IsActive = true")["records"]
    human = next(u["Id"] for u in users if u["Id"] != sandbox.integration_user_id)
    return [str(sandbox.create("Lead", {"LastName": n, "Company": "Co"}, as_user=human))
            for n in names]  # fmt: skip


def pipeline_with(gw: SalesforceGateway, client: redis.Redis, step: Any, **kw: Any) -> Pipeline:
    """A pipeline running `step` on leads, its loop guard on the gateway's integration user."""
    return Pipeline(
        gw, client, integration_user_id=gw.integration_user_id, steps={"Lead": [step]}, **kw
    )


class Recording:
    """A step that records the ids it ran for; `hold` keeps its first run going until set."""

    name = "recording"

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.runs: list[str] = []
        self.hold = hold

    def fields(self, sobject: str) -> set[str]:
        return set()

    def run(self, context: BatchContext) -> None:
        first = not self.runs
        self.runs += [r["Id"] for r in context.records]
        if first and self.hold is not None:
            self.hold.wait(5)


def test_batch_processed_once_per_version_with_one_fetch(sandbox, settings, gateway) -> None:
    sandbox.seed(users=3, seed=3)
    users = sandbox.salesforce().query("SELECT Id FROM User WHERE IsActive = true")["records"]
    human = next(u["Id"] for u in users if u["Id"] != sandbox.integration_user_id)
    theirs = [sandbox.create("Lead", {"LastName": f"P{n}", "Company": "Co"}, as_user=human)
              for n in range(3)]  # fmt: skip
    ours = sandbox.create("Lead", {"LastName": "Bridge", "Company": "Co"})
    client = redis.Redis.from_url(settings.redis_url)
    pipeline = Pipeline(gateway, client, integration_user_id=gateway.integration_user_id)
    before = gateway.calls_by_operation.get("fetch", 0)
    first = pipeline.process(batch("Lead", [*theirs, ours]))
    assert gateway.calls_by_operation.get("fetch", 0) - before == 1  # one SOQL for the batch
    assert sorted(first.processed_ids) == sorted(theirs)
    assert first.skipped_loop_guard == 1
    # Redelivery or a poll of the same versions: nothing is processed again.
    second = pipeline.process(batch("Lead", theirs))
    assert second.processed == 0 and second.skipped_already_processed == 3
    # A new version (a rep edits the record) is new work.
    sandbox.update("Lead", theirs[0], {"Company": "Changed"}, as_user=human)
    third = pipeline.process(batch("Lead", theirs))
    assert third.processed_ids == [theirs[0]]
    assert processed_count(client, 1, "Lead") == 4
    client.close()


def test_two_batches_at_once_process_a_version_once(sandbox, settings) -> None:
    """A callout batch still running when the poll's lookback reads the record again, on
    another worker process: the version is claimed by one batch, the other skips it."""
    [lead] = human_leads(sandbox, "Twice")
    sf = with_sandbox(settings, sandbox)
    one_returned = threading.Event()  # the claimer's step runs until the other batch is done
    step = Recording(hold=one_returned)
    start = threading.Barrier(2)
    results: dict[str, Any] = {}

    def worker(source: str) -> None:  # its own gateway and Redis client, like a process
        gw = SalesforceGateway.from_settings(sf)
        client = redis.Redis.from_url(settings.redis_url)
        pipeline = pipeline_with(gw, client, step)
        start.wait(5)
        try:
            results[source] = pipeline.process(batch("Lead", [lead], source))
        finally:
            one_returned.set()
            gw.close()
            client.close()

    threads = [threading.Thread(target=worker, args=(s,)) for s in ("webhook", "poll")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert step.runs == [lead]  # the step ran once for the version
    assert sorted(r.processed for r in results.values()) == [0, 1]
    assert sorted(r.skipped_in_flight for r in results.values()) == [0, 1]
    client = redis.Redis.from_url(settings.redis_url)
    assert processed_count(client, 1, "Lead") == 1
    # Once the claimer is done the version is processed, not held: a later poll skips it.
    gw = SalesforceGateway.from_settings(sf)
    later = pipeline_with(gw, client, step).process(batch("Lead", [lead], "poll"))
    assert later.skipped_already_processed == 1 and later.skipped_in_flight == 0
    assert step.runs == [lead]
    gw.close()
    client.close()


class KillsItsProcess:
    name = "kills"

    def fields(self, sobject: str) -> set[str]:
        return set()

    def run(self, context: BatchContext) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # a worker killed mid-batch


def _dying_batch(sf: Settings, lead: str, claimant: str | None, ttl: int) -> None:
    gw = SalesforceGateway.from_settings(sf)
    client = redis.Redis.from_url(sf.redis_url)
    pipeline = pipeline_with(gw, client, KillsItsProcess(), claim_ttl_seconds=ttl)
    pipeline.process(batch("Lead", [lead]), claimant=claimant)


def _die_mid_batch(
    sf: Settings, lead: str, claimant: str | None, ttl: int = CLAIM_TTL_SECONDS
) -> float:
    """A worker process that claims the lead's version and is SIGKILLed in the step; returns
    when it died (its claim was taken before)."""
    child = multiprocessing.get_context("fork").Process(
        target=_dying_batch, args=(sf, lead, claimant, ttl)
    )
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    return time.monotonic()


def test_a_claim_left_by_a_killed_batch_blocks_no_redelivery(sandbox, settings, gateway) -> None:
    lead, newer = human_leads(sandbox, "Killed", "Lost")
    sf = with_sandbox(settings, sandbox)
    client = redis.Redis.from_url(settings.redis_url)
    step = Recording()
    pipeline = pipeline_with(gateway, client, step)
    _die_mid_batch(sf, lead, "task-1")
    # Another batch (a poll) leaves the version to its claimer, whose task comes back ...
    other = pipeline.process(batch("Lead", [lead], "poll"), claimant="task-2")
    assert other.skipped_in_flight == 1 and step.runs == []
    # ... redelivered (acks_late) with the same task id: it takes its own claim back.
    redelivered = pipeline.process(batch("Lead", [lead]), claimant="task-1")
    assert redelivered.processed_ids == [lead] and step.runs == [lead]

    # A claimer that never comes back (a task lost at the hard time limit): the claim expires.
    died = _die_mid_batch(sf, newer, "task-3", ttl=4)
    assert pipeline.process(batch("Lead", [newer], "poll"), claimant="t4").skipped_in_flight == 1
    time.sleep(max(0.0, died + 4.2 - time.monotonic()))
    assert pipeline.process(batch("Lead", [newer], "poll"), claimant="t4").processed == 1
    assert step.runs == [lead, newer]
    assert processed_count(client, 1, "Lead") == 2
    client.close()


def test_a_redelivered_message_takes_its_claim_back_without_a_task_id(
    sandbox, settings, gateway
) -> None:
    """No claimant given: the batch's digest, which the same message repeats when redelivered."""
    [lead] = human_leads(sandbox, "Digest")
    client = redis.Redis.from_url(settings.redis_url)
    step = Recording()
    pipeline = pipeline_with(gateway, client, step)
    _die_mid_batch(with_sandbox(settings, sandbox), lead, None)
    assert pipeline.process(batch("Lead", [lead], "poll")).skipped_in_flight == 1
    assert pipeline.process(batch("Lead", [lead])).processed_ids == [lead]
    assert step.runs == [lead]
    client.close()


class Fails:
    name = "fails"

    def fields(self, sobject: str) -> set[str]:
        return set()

    def run(self, context: BatchContext) -> None:
        raise RuntimeError("enrichment down")


def test_a_failed_batch_releases_its_claims(sandbox, settings, gateway) -> None:
    [lead] = human_leads(sandbox, "Failed")
    client = redis.Redis.from_url(settings.redis_url)
    failing = pipeline_with(gateway, client, Fails())
    with pytest.raises(RuntimeError):
        failing.process(batch("Lead", [lead]), claimant="task-1")
    step = Recording()
    retry = pipeline_with(gateway, client, step)
    # Another batch may take the version at once (the failed one neither did it nor holds it).
    assert retry.process(batch("Lead", [lead], "poll"), claimant="task-2").processed == 1
    assert step.runs == [lead]
    client.close()
