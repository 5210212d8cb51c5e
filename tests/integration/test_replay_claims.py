"""A dead letter's replay runs as the failed task did: the claims a killed run never released
are its own, so the replay processes the batch instead of finding it "held by another run"."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from bridge.pipeline import Pipeline
from bridge.triggers import versions
from tests.integration.test_pipeline_batches import Recording, batch, gateway, human_leads
from workers.tasks import triggers as trigger_tasks

__all__ = ["gateway"]  # the fixture, imported for this module's tests


@pytest.fixture
def recorded(settings, gateway, monkeypatch) -> tuple[Recording, redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    step = Recording()
    pipeline = Pipeline(gateway, client, integration_user_id=gateway.integration_user_id,
                        steps={"Lead": [step]})  # fmt: skip
    monkeypatch.setattr(trigger_tasks, "_pipeline", pipeline)
    return step, client


def _killed_run_holds(sandbox: Any, client: redis.Redis, lead: str) -> None:
    """What a run killed at its time limit leaves behind: its claim on the version."""
    record = sandbox.salesforce().Lead.get(lead)
    claim = versions.claim(client, 1, [record], claimant="t-killed", ttl_seconds=600)
    assert [r["Id"] for r in claim.mine] == [lead]


def _run_task(payload: dict[str, Any], **request: Any) -> dict[str, int]:
    """Run the task body under a request context as a worker builds it from the message: a
    message's custom headers (the replay's `replay_of_task`) become request attributes."""
    trigger_tasks.process_batch.push_request(retries=0, **request)
    try:
        return trigger_tasks.process_batch.run(payload)
    finally:
        trigger_tasks.process_batch.pop_request()


def test_replay_takes_back_the_killed_runs_claims(sandbox, recorded) -> None:
    step, client = recorded
    [lead] = human_leads(sandbox, "Replayed")
    _killed_run_holds(sandbox, client, lead)
    payload = batch("Lead", [lead]).payload()

    other = _run_task(payload, id="t-other")
    assert other["processed"] == 0 and step.runs == []  # another run's claim is respected

    replay = _run_task(payload, id="t-replay", replay_of_task="t-killed")
    assert replay["processed"] == 1 and step.runs == [lead]
