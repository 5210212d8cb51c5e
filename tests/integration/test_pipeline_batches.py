"""A dispatched batch through the pipeline against the sandbox: once per record version."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from bridge.pipeline import Pipeline, processed_count
from bridge.salesforce.gateway import SalesforceGateway
from bridge.triggers.dispatcher import Batch, BatchItem
from config.settings import Settings
from tests.conftest import with_sandbox


@pytest.fixture
def gateway(sandbox: Any, settings: Settings) -> SalesforceGateway:
    gw = SalesforceGateway.from_settings(with_sandbox(settings, sandbox))
    yield gw
    gw.close()


def batch(sobject: str, ids: list[str]) -> Batch:
    return Batch(1, sobject, [BatchItem(i, "rid", "webhook", "after_insert") for i in ids])


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
