"""Triggers end to end with real processes: sandbox callouts -> web -> dispatcher -> worker,
and beat polling as the safety net. Each record version is processed exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
import redis
import requests
from simple_salesforce import format_soql

from bridge.triggers.signatures import sign
from tests.e2e.conftest import BRIDGE, Processes, connected_stack, wait_until

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    sandbox: Any
    env: dict[str, str]
    web_url: str
    key: str
    secret: str
    tenant_id: int
    human: str
    rdb: redis.Redis

    def processed(self, sobject: str = "Lead") -> int:
        return int(self.rdb.get(f"bridge:pipeline:processed:{self.tenant_id}:{sobject}") or 0)

    def version_seen(self, record_id: str) -> bool:
        return self.rdb.exists(f"bridge:version:{self.tenant_id}:{record_id}") == 1


@pytest.fixture
def stack(
    tmp_path: Path, stack_env: dict[str, str], database_url: str, broker_url: str,
    processes: Processes,
) -> Iterator[Stack]:  # fmt: skip
    extra = {
        "BRIDGE_TRIGGER_BATCH_LINGER_SECONDS": "0.1",
        "BRIDGE_POLL_INTERVAL_SECONDS": "3",
        "BRIDGE_POLL_LOOKBACK_SECONDS": "30",
        "BRIDGE_BEAT_MAX_LOOP_INTERVAL": "1",
        "BRIDGE_REDBEAT_LOCK_TIMEOUT": "5",
        # Delivery is under test here, not the steps (the pipeline has its own e2e tests).
        "BRIDGE_PIPELINE_CONFIG": str(Path(__file__).with_name("data") / "pipeline-no-steps.yaml"),
    }
    with connected_stack(tmp_path, stack_env, database_url, processes, extra) as c:
        rdb = redis.Redis.from_url(broker_url)
        yield Stack(c.sandbox, c.env, c.web_url, c.key, c.secret, c.tenant_id, c.human, rdb)
        rdb.close()


def test_callouts_polling_and_loop_guard(stack: Stack, processes: Processes) -> None:
    processes.worker(stack.env, pool="solo")
    sbx = stack.sandbox
    # 1. A rep creates a lead: the Apex callout brings it in real time.
    first = sbx.create("Lead", {"LastName": "Callout", "Company": "Acme"}, as_user=stack.human)
    wait_until(lambda: stack.version_seen(first), 30, "callout processed")
    # 2. The bridge's own change (integration user) fires a callout too, but is not new work.
    ours = sbx.create("Lead", {"LastName": "Ours", "Company": "Acme"})
    sbx.wait_for_callouts()
    time.sleep(1.5)
    assert not stack.version_seen(ours)
    assert stack.processed() == 1
    # 3. Callouts are down (an outage): a change made meanwhile arrives with the next poll,
    #    and the poll's lookback, which sees the first lead again, does not reprocess it.
    sbx.set_callouts(enabled=False)
    missed = sbx.create("Lead", {"LastName": "Missed", "Company": "Acme"}, as_user=stack.human)
    time.sleep(1)
    assert not stack.version_seen(missed)
    processes.start("beat", [*BRIDGE, "beat"], stack.env)
    wait_until(lambda: stack.version_seen(missed), 45, "poll picked up the missed lead")
    time.sleep(4)  # another poll interval: still nothing twice
    assert stack.processed() == 2
    status = requests.get(
        f"{stack.web_url}/v1/triggers/polling/status",
        headers={"Authorization": f"Bearer {stack.key}"}, timeout=5,
    ).json()  # fmt: skip
    lead = next(o for o in status["objects"] if o["object"] == "Lead")
    assert status["last_poll_time"] and status["next_poll_time"] and lead["watermark_value"]
    assert lead["last_error"] is None


async def _burst(stack: Stack, ids: list[str], org_id: str, replays: int) -> list[int]:
    """Single-record signed callouts at 32 connections; `replays` of them sent twice."""
    now = int(time.time())
    sem = asyncio.Semaphore(32)
    statuses: list[int] = []

    async def send(session: aiohttp.ClientSession, n: int, record_id: str) -> None:
        body = json.dumps(
            {"object": "Lead", "ids": [record_id], "event": "after_update", "org_id": org_id}
        ).encode()
        headers = {
            "Authorization": f"Bearer {stack.key}", "Content-Type": "application/json",
            "webhook-id": f"burst_{n}", "webhook-timestamp": str(now),
            "webhook-signature": sign(body, stack.secret, f"burst_{n}", now),
        }  # fmt: skip
        async with sem, session.post(
            f"{stack.web_url}/v1/triggers/salesforce", data=body, headers=headers
        ) as resp:
            statuses.append(resp.status)

    jobs = [(n, i) for n, i in enumerate(ids)] + [(n, ids[n]) for n in range(replays)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await asyncio.gather(*(send(session, n, i) for n, i in jobs))
    return statuses


def test_burst_of_10000_callouts_survives_a_killed_worker(
    stack: Stack, processes: Processes
) -> None:
    sbx = stack.sandbox
    sbx.set_callouts(enabled=False)  # this test is the callout sender
    rep = sbx.salesforce(sbx.token("password", username=_username(sbx, stack.human)))
    ids: list[str] = []
    for chunk in range(50):  # 10,000 leads written by a rep, 200 per collection call
        records = [
            {"attributes": {"type": "Lead"}, "LastName": f"Burst{chunk}-{n}", "Company": "Co"}
            for n in range(200)
        ]
        result = rep.restful("composite/sobjects", method="POST",
                             json={"allOrNone": True, "records": records})  # fmt: skip
        ids += [r["id"] for r in result]
    worker = processes.worker(stack.env, "--concurrency", "2", pool="prefork")
    statuses = asyncio.run(_burst(stack, ids, sbx.org_id, replays=500))
    assert statuses.count(200) == len(statuses) == 10_500
    # Kill one pool process while batches are in flight: its batch goes back to the queue.
    wait_until(lambda: stack.processed() > 0, 60, "processing started")
    children = psutil.Process(worker.process.pid).children()
    assert children
    os.kill(children[0].pid, signal.SIGKILL)
    wait_until(lambda: stack.processed() >= 10_000, 180, "all 10,000 processed")
    time.sleep(2)
    assert stack.processed() == 10_000  # every accepted id, none twice
    assert all(stack.version_seen(i) for i in ids[::97])


def _username(sbx: Any, user_id: str) -> str:
    soql = format_soql("SELECT Username FROM User WHERE Id = {}", user_id)
    rows = sbx.salesforce().query(soql)["records"]
    return str(rows[0]["Username"])


def test_two_beats_one_poll_per_interval(stack: Stack, processes: Processes) -> None:
    worker = processes.worker(stack.env, pool="solo")
    # Two beat processes, as a failover deployment runs them: redbeat's lock lets one send.
    beats = [processes.start("beat", [*BRIDGE, "beat"], stack.env) for _ in range(2)]
    sent = "Sending due task poll-salesforce"

    def sends() -> int:
        return sum(beat.log().count(sent) for beat in beats)

    wait_until(lambda: sends() >= 1, 30, "the first poll")
    started, first = time.monotonic(), sends()
    time.sleep(12)
    runs, elapsed = sends() - first, time.monotonic() - started
    # BRIDGE_POLL_INTERVAL_SECONDS=3: about elapsed / 3 sends; two active beats would double it.
    assert 2 <= runs <= elapsed / 3 + 1, (runs, elapsed)
    assert sum(1 for beat in beats if sent in beat.log()) == 1
    wait_until(lambda: "triggers.poll_object" in worker.log(), 20, "polls run")
